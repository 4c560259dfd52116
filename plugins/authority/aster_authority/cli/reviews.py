"""``aster dev ID reviews``: device reviews (review mode ``required``): list, approve, reject,
by admins or holders of ``authority.review``. Parse, call :mod:`aster_authority.client.devices`,
render."""

from __future__ import annotations

from typing import Any

import click

from aster_core.output import emit, info, json_option, print_table, wide_option

from .common import (complete_ids, conn_options, given_deployment, meta_cells, more, open_authority, paging,
                     remember_ids, ts)


@click.group("reviews")
def dev_reviews() -> None:
    """Device reviews (review mode required): list, approve, reject. Admins or authority.review holders."""


@dev_reviews.command("list")
@click.option("--instance", "instance_id", metavar="I", help="Only this device's reviews.")
@click.option("--state", type=click.Choice(["pending", "approved", "rejected"]))
@paging
@conn_options
@json_option
@wide_option
def reviews_list(instance_id, state, limit, all_pages, authority_addr, rcan, as_json: bool) -> None:
    """List reviews (oldest first)."""
    from ..client import devices

    with open_authority(authority_addr, rcan) as auth:
        page = devices.reviews(auth, given_deployment(), instance_id=instance_id, state=state, limit=limit,
                               all_pages=all_pages)
    remember_ids("reviews", page, "review_id", filtered=bool(instance_id or state))

    def render(p: dict[str, Any]) -> None:
        print_table(["review", "instance", "state", "name", "serial", "model", "requested", "reason"],
                    [(r["review_id"], r["instance_id"], r["state"], *meta_cells(r["metadata"], False),
                      ts(r["requested_at"]), r["reason"] or "") for r in p["items"]],
                    optional=("name", "serial", "model", "requested", "reason"))
        more(p)

    emit(page, as_json, render)


def _decide(decision: str) -> Any:
    @click.argument("review_id", metavar="REVIEW", shell_complete=complete_ids("reviews"))
    @click.option("--reason", metavar="R", help="Why (kept with the review).")
    @conn_options
    @json_option
    def command(review_id, reason, authority_addr, rcan, as_json: bool) -> None:
        from ..client import devices

        with open_authority(authority_addr, rcan) as auth:
            r = devices.decide(auth, given_deployment(), review_id, decision, reason=reason)

        def render(r: dict[str, Any]) -> None:
            rv = r["review"]
            if not r["changed"]:
                click.echo(f"Review {rv['review_id']} was already {rv['state']}")
            else:
                click.echo(f"Review {rv['review_id']} {rv['state']}; device {rv['instance_id']} is "
                           f"{r['instance_state']}")
            if decision == "approved":
                info("The device gets its credential on its next `aster dev activate` (or `aster authority fetch`)")

        emit(r, as_json, render)

    command.__doc__ = ("Approve a review: the device is activated and its credential released (idempotent)."
                       if decision == "approved" else "Reject a review: the device is not activated (idempotent).")
    return command


dev_reviews.command("approve")(_decide("approved"))
dev_reviews.command("reject")(_decide("rejected"))
