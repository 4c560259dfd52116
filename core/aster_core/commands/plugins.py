"""`aster plugins`: every installed family, its hooks, commands and status."""

from __future__ import annotations

from typing import Any

import click

from .. import output


def plugin_report() -> list[dict[str, Any]]:
    """One dict per entry point in the plugin group (what `aster plugins --json` prints)."""
    from ..host import get_host

    return [rec.as_dict() for rec in get_host().validated_records()]


@click.command()
@output.json_option
def plugins(as_json: bool) -> None:
    """List installed command families: distribution, version, entry point,
    commands, hooks, status (loaded / failed / disabled / shadowed /
    incompatible) and path."""
    report = plugin_report()

    def render(rows: list[dict[str, Any]]) -> None:
        if not rows:
            output.info("No plugins installed. The `aster` meta-package installs every family (see the README).")
            return
        output.print_table(
            ["distribution", "version", "commands", "hooks", "status"],
            [(r["distribution"], r["version"], ", ".join(r["commands"]) or "-",
              ", ".join(h.removeprefix("aster_") for h in r["hooks"]) or "-", r["status"]) for r in rows])
        for r in rows:
            detail = r["error"] or ("unknown hooks: " + ", ".join(r["unknown_hooks"]) if r["unknown_hooks"] else "")
            click.echo(f"  {r['distribution']}: entry point {r['entry_point']}\n    {r['path']}"
                       + (f"\n    {detail}" if detail else ""))

    output.emit(report, as_json, render)
