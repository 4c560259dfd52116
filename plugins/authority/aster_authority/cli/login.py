"""``aster authority login`` / ``logout`` / ``whoami``: keep the authority's address and our
credential in config.toml instead of environment variables (work in ``client/login.py``)."""

from __future__ import annotations

from typing import Any

import click

from aster_core.output import emit, json_option, print_fields, warn

from .common import ts


@click.command("login")
@click.argument("address")
@click.option("--rcan", required=True, metavar="FILE",
              help="Your credential for it (JSON, or the .aster-identity `aster enroll node` wrote).")
@json_option
def login_cmd(address: str, rcan: str, as_json: bool) -> None:
    """Check that the authority at ADDRESS answers and trusts your credential, then keep both in
    config.toml ([authority] address and credential)."""
    from ..client.login import login

    r = login(address, rcan)
    emit(r, as_json, lambda r: click.echo(
        f"Logged in to the authority at {r['address'][:40]}... as {r['endpoint_id'] or '(unbound credential)'} "
        f"(roles {', '.join(r['roles']) or 'none'}{'' if r['admin'] else '; not an admin'}); kept in config.toml"))
    for env in r["overridden_by"]:
        warn(f"{env} is set in this environment and wins over config.toml")


@click.command("logout")
@json_option
def logout_cmd(as_json: bool) -> None:
    """Forget the authority's address and credential in config.toml (the credential file stays)."""
    from ..client.login import logout

    r = logout()
    emit(r, as_json, lambda r: click.echo(f"Removed {', '.join(r['removed'])} from config.toml" if r["removed"]
                                          else "Not logged in to an authority (nothing to remove)"))
    for env in r["still_set_by"]:
        warn(f"{env} is still set in this environment")


def _render(r: dict[str, Any]) -> None:
    if r["reachable"] is None:
        answers = "(no address)"
    elif r["reachable"]:
        answers = "yes"
    else:
        answers = f"NO: {r['problem']}"
    admitted = {None: "(not asked)", True: f"yes, roles {', '.join(r.get('roles_seen') or [])}",
                False: "NO (it read no roles from this credential)"}[r["admitted"]]
    print_fields([
        ("address", f"{r['address'][:48]}..." if r["address"] else "(none)"), ("address from", r["address_from"]),
        ("credential", r["credential"] or "(none)"), ("endpoint id", r.get("endpoint_id") or "(not bound)"),
        ("roles", ", ".join(r.get("roles") or []) or "(none)"),
        ("expires", (ts(r.get("expires_at")) + (" (EXPIRED)" if r.get("expired") else "")) if r["credential"] else ""),
        ("answers", answers), ("admits us", admitted),
        ("admin", {None: "", True: "yes", False: "no"}[r["admin"]])])


@click.command("whoami")
@json_option
def whoami_cmd(as_json: bool) -> None:
    """Your credential for the configured authority (endpoint id, roles, expiry), its address,
    and whether it answers and admits you."""
    from ..client.login import whoami

    emit(whoami(), as_json, _render)
