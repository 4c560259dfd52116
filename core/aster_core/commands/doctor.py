"""`aster doctor`: the host's checks plus every family's."""

from __future__ import annotations

from typing import Any

import click

from .. import output
from ..errors import AsterError
from ..hookspecs import CheckResult


def run_checks() -> list[dict[str, Any]]:
    """Run every declared check; a check that raises is itself a failure."""
    from ..host import get_host
    from ..loading import load_target

    results: list[dict[str, Any]] = []
    for dist, check in get_host().collect("aster_doctor_checks"):
        try:
            found = load_target(check.target)()
            found = found if isinstance(found, list) else [found]
        except AsterError as exc:  # an expected failure (a bad config file, say): the check fails with it
            found = [CheckResult(check.name, "fail", exc.message, exc.hint)]
        except Exception as exc:
            found = [CheckResult(check.name, "fail", f"check raised {type(exc).__name__}: {exc}",
                                 f"a bug in {dist}; report it")]
        results.extend({"source": dist, "check": r.name, "status": r.status, "message": r.message,
                        "hint": r.hint} for r in found)
    return results


@click.command()
@output.json_option
def doctor(as_json: bool) -> None:
    """Check plugins, keyring, config and home, and run every family's checks.

    Exits 1 when any check fails (warnings do not fail).
    """
    results = run_checks()
    marks = {"ok": "ok", "warn": "WARN", "fail": "FAIL"}

    def render(rows: list[dict[str, Any]]) -> None:
        output.print_table(["status", "check", "from", "details"],
                           [(marks.get(r["status"], r["status"]), r["check"], r["source"],
                             r["message"] + (f"\n-> {r['hint']}" if r["hint"] and r["status"] != "ok" else ""))
                            for r in rows])

    output.emit(results, as_json, render)
    if any(r["status"] == "fail" for r in results):
        raise click.exceptions.Exit(1)
