"""``aster authority admins``: the admins and reviewers the authority admitted, and revoking one
(a signed decision on the authority-wide chain). Parse, call :mod:`aster_authority.client.admins`,
render."""

from __future__ import annotations

from typing import Any

import click

from aster_core.output import emit, json_option, print_table, wide_option

from .common import conn_options, more, open_authority, paging, ts


@click.group("admins")
def admins() -> None:
    """The admins and reviewers the authority admitted; revoke one."""


@admins.command("list")
@paging
@conn_options
@json_option
@wide_option
def admins_list(limit, all_pages, authority_addr, rcan, as_json) -> None:
    """Every admin and reviewer endpoint the authority admitted: name, roles, first and last seen,
    credential expiry, and whether (and why) it was revoked."""
    from ..client import admins as work

    with open_authority(authority_addr, rcan) as auth:
        page = work.admins(auth, limit=limit, all_pages=all_pages)

    def render(p: dict[str, Any]) -> None:
        print_table(["endpoint", "revoked", "name", "roles", "last seen", "first seen", "expires"],
                    [(a["endpoint_id"],
                      f"{ts(a['revoked_at'])} ({a['reason']})" if a["revoked_at"] is not None else "-",
                      a["name"], ",".join(a["roles"]), ts(a["last_seen"]), ts(a["first_seen"]),
                      ts(a["credential_expires_at"])) for a in p["items"]],
                    optional=("name", "roles", "last seen", "first seen", "expires"))
        more(p)

    emit(page, as_json, render)


@admins.command("revoke")
@click.argument("endpoint_id", metavar="ENDPOINT")
@click.option("--reason", required=True, metavar="TEXT", help="Why (kept with the revocation).")
@conn_options
@json_option
def admins_revoke(endpoint_id, reason, authority_addr, rcan, as_json) -> None:
    """Revoke an admin or reviewer: a decision signed by you; the authority refuses that endpoint
    on every admin and review method from now on, and reconcile treats its later records as invalid."""
    from ..client import admins as work

    with open_authority(authority_addr, rcan) as auth:
        r = work.revoke_admin(auth, endpoint_id, reason)
    emit(r, as_json, lambda r: click.echo(f"Revoked {r['endpoint_id']} ({r['reason']})"))
