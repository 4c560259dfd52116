"""``aster dev ID activations``: activated and revoked devices; revoking one. Parse, call
:mod:`aster_authority.client.devices`, render."""

from __future__ import annotations

from typing import Any

import click

from aster_core.output import emit, json_option, print_table, wide_option

from .common import complete_ids, conn_options, given_deployment, more, open_authority, paging, ts


@click.group("activations")
def dev_activations() -> None:
    """Activated and revoked devices; revoke one."""


@dev_activations.command("list")
@click.option("--instance", "instance_id", metavar="I", help="Only this device.")
@click.option("--state", type=click.Choice(["activated", "revoked"]))
@paging
@conn_options
@json_option
@wide_option
def activations_list(instance_id, state, limit, all_pages, authority_addr, rcan, as_json: bool) -> None:
    """List activations."""
    from ..client import devices

    with open_authority(authority_addr, rcan) as auth:
        page = devices.activations(auth, given_deployment(), instance_id=instance_id, state=state, limit=limit,
                                   all_pages=all_pages)

    def render(p: dict[str, Any]) -> None:
        print_table(["instance", "state", "name", "activated", "revoked"],
                    [(i["instance_id"], i["state"], i["metadata"].get("name", ""), ts(i["activated_at"]),
                      ts(i["revoked_at"])) for i in p["items"]], optional=("name", "activated", "revoked"))
        more(p)

    emit(page, as_json, render)


@dev_activations.command("revoke")
@click.argument("instance_id", metavar="INSTANCE", shell_complete=complete_ids("instances"))
@conn_options
@json_option
def activations_revoke(instance_id, authority_addr, rcan, as_json: bool) -> None:
    """Revoke a device: no more credential release or renewal; producers' gates refuse it."""
    from ..client import devices

    with open_authority(authority_addr, rcan) as auth:
        r = devices.revoke(auth, given_deployment(), instance_id)
    emit(r, as_json, lambda r: click.echo(f"Revoked {r['instance_id']} (was {r['previous_state']}); its endpoint "
                                          "is on the revocation list" if r["changed"]
                                          else f"{r['instance_id']} was already revoked"))
