"""``aster registry login`` / ``logout`` / ``whoami`` (work in :mod:`.login`)."""

from __future__ import annotations

from typing import Any

import click

from aster_core.output import emit, json_option, print_fields, warn

from .options import DEFAULT_TIMEOUT

_TIMEOUT = click.option("--timeout", type=float, default=DEFAULT_TIMEOUT, show_default=True,
                        help="Seconds the registry may take to answer.")


@click.command("login")
@click.argument("address")
@_TIMEOUT
@json_option
def login_cmd(address: str, timeout: float, as_json: bool) -> None:
    """Check that the registry at ADDRESS answers, then keep it in config.toml
    ([aster_service] node_id). Your identity there is the profile's root key."""
    from .login import login

    r = login(address, timeout=timeout)
    emit(r, as_json, lambda r: click.echo(f"Using the registry at {r['address'][:40]}... "
                                          f"({r['public_services']} public services); kept in config.toml"))
    if r["overridden_by"]:
        warn(f"{r['overridden_by']} is set in this environment and wins over config.toml")


@click.command("logout")
@json_option
def logout_cmd(as_json: bool) -> None:
    """Forget the registry's address in config.toml."""
    from .login import logout

    r = logout()
    emit(r, as_json, lambda r: click.echo("Removed aster_service.node_id from config.toml" if r["removed"]
                                          else "No registry address in config.toml (nothing to remove)"))
    if r["still_set_by"]:
        warn(f"{r['still_set_by']} is still set in this environment")


def _render(r: dict[str, Any]) -> None:
    ident = r.get("identity") or {}
    local, remote = ident.get("local") or {}, ident.get("remote") or {}
    handle = local.get("handle")
    print_fields([
        ("address", f"{r['address'][:48]}..."), ("address from", r["address_from"]),
        ("answers", f"yes ({r['public_services']} public services)" if r["reachable"] else f"NO: {r['problem']}"),
        ("profile", local.get("profile") or "(none)"), ("root pubkey", local.get("root_pubkey") or ""),
        ("handle", f"@{handle} ({local.get('handle_status')})" if handle else "(none)"),
        ("registry knows us", f"yes, as @{remote['handle']} ({remote.get('status')})" if remote.get("handle")
         else f"no ({r['problem']})" if r["problem"] else "no")])


@click.command("whoami")
@click.option("--root-key", metavar="FILE", default=None, help="Root key pair file (default: the profile's keyring key).")
@_TIMEOUT
@json_option
def whoami_cmd(root_key: str | None, timeout: float, as_json: bool) -> None:
    """The configured registry: its address, whether it answers, and your handle on it."""
    from .login import whoami

    emit(whoami(timeout=timeout, root_key=root_key), as_json, _render)
