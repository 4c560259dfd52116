"""``aster grants``: which consumer endpoints get which roles of a deployment (reconcile
signs their credentials). Parse, call :mod:`aster_authority.client.grants`, render."""

from __future__ import annotations

from typing import Any, Callable

import click

from aster_core.completions import complete_cached
from aster_core.output import emit, info, json_option, print_table, wide_option

from .common import conn_options, more, of_authority, open_authority, paging, ts

#: ``--deployment <Tab>``: the service deployments `aster svc list` last showed
complete_deployments = complete_cached("deployments", lambda ctx: of_authority(ctx, "service"))


@click.group()
def grants() -> None:
    """Deployment grants: consumer endpoint ids and the roles reconcile signs for them."""


@grants.command("list")
@click.option("--deployment", metavar="D", shell_complete=complete_deployments, help="Only this deployment.")
@paging
@conn_options
@json_option
@wide_option
def grants_list(deployment, limit, all_pages, authority_addr, rcan, as_json) -> None:
    """List grants."""
    from ..client.grants import grants_list

    with open_authority(authority_addr, rcan) as auth:
        page = grants_list(auth, deployment, limit=limit, all_pages=all_pages)

    def render(p: dict[str, Any]) -> None:
        print_table(["deployment", "consumer", "role", "since"],
                    [(g["deployment_id"], g["consumer"], g["role"], ts(g["created_at"]))
                     for g in p["items"]], optional=("since",))
        more(p)

    emit(page, as_json, render)


def _grant_command(add: bool) -> Callable:
    @click.option("--deployment", required=True, metavar="D", shell_complete=complete_deployments)
    @click.option("--consumer", required=True, metavar="ENDPOINT_ID", help="The consumer node's endpoint id (hex).")
    @click.option("--role", "roles", required=True, multiple=True, metavar="R", help="Repeatable.")
    @conn_options
    @json_option
    def command(deployment, consumer, roles, authority_addr, rcan, as_json) -> None:
        from ..client.grants import grant

        with open_authority(authority_addr, rcan) as auth:
            r = grant(auth, deployment, consumer, roles, add=add)

        def render(r: dict[str, Any]) -> None:
            verb = "Granted" if add else "Removed"
            click.echo(f"{verb} {', '.join(r['changed']) or 'nothing new'} for {r['consumer']} on "
                       f"{r['deployment_id']}; roles now: {', '.join(r['roles']) or '(none: revoked)'}")
            if r["reconcile_needed"]:
                info(f"Reconcile needed: aster svc {r['deployment_id']} authority reconcile")

        emit(r, as_json, render)

    command.__doc__ = "Grant roles to a consumer (atomic)." if add else "Remove roles from a consumer (atomic)."
    return command


grants.command("add")(_grant_command(True))
grants.command("remove")(_grant_command(False))
