"""``aster svc ID authority ...`` (and ``aster dev ID authority ...``): the deployment's
authority: desired state, plans, decisions, reconcile. Parse, call
:mod:`aster_authority.client.deployments` and :mod:`aster_authority.client.signing`, render.
"""

from __future__ import annotations

from typing import Any

import click

from aster_core.errors import UsageError
from aster_core.output import emit, info, json_option, print_fields, print_table, wide_option

from .common import (checkpoint_confirmation, complete_ids, conn_options, exit_on_failed, given_deployment, kind,
                     more, open_authority, paging, prefix, remember_ids, render_changes, render_deployment,
                     render_reconcile, signing_options, ts)


@click.group("authority")
def dep_authority() -> None:
    """The deployment's authority: desired state, plans, decisions, reconcile."""


@dep_authority.command("show")
@conn_options
@json_option
def auth_show(authority_addr, rcan, as_json: bool) -> None:
    """Desired version, contract and what reconcile would do."""
    from ..client import deployments, signing

    with open_authority(authority_addr, rcan) as auth:
        d = deployments.show(auth, given_deployment(), kind=kind())
        d["reconcile"] = signing.reconcile(auth, given_deployment(), kind=kind(), dry_run=True)

    def render(d: dict[str, Any]) -> None:
        render_deployment(d)
        c = d["reconcile"]["counts"]
        click.echo(f"  reconcile      {c['current']} current, {c['pending']} pending, {c.get('refused', 0)} refused "
                   "(not backed by a decision)")

    emit(d, as_json, render)


@dep_authority.group("plan")
def auth_plan() -> None:
    """Authority plans: list and show."""


@auth_plan.command("list")
@click.option("--state", type=click.Choice(["pending", "accepted", "rejected", "expired"]))
@click.option("--classification", type=click.Choice(["update", "migration"]))
@click.option("--stale", is_flag=True, help="Only pending plans made against an older version.")
@paging
@conn_options
@json_option
@wide_option
def plan_list(state, classification, stale, limit, all_pages, authority_addr, rcan, as_json: bool) -> None:
    """List plans (oldest first)."""
    from ..client import deployments

    with open_authority(authority_addr, rcan) as auth:
        page = deployments.plan_list(auth, given_deployment(), kind=kind(), state=state,
                                     classification=classification, stale=stale, limit=limit, all_pages=all_pages)
    remember_ids("plans", page, "plan_id", filtered=bool(state or classification or stale))

    def render(p: dict[str, Any]) -> None:
        print_table(["plan", "class", "state", "breaking", "services", "expires"],
                    [(x["plan_id"], x["classification"], x["state"] + (" (stale)" if x["stale"] else ""),
                      x["breaking"], ", ".join(x["services"]), ts(x["expires_at"])) for x in p["items"]],
                    optional=("services", "expires"))
        more(p)

    emit(page, as_json, render)


def _render_plan(p: dict[str, Any]) -> None:
    print_fields([("plan", p["plan_id"]), ("deployment", f"{prefix()}/{p['deployment_id']}"),
                  ("classification", p["classification"]),
                  ("state", p["state"] + (" (STALE: re-apply to get a current plan)" if p["stale"] else "")),
                  ("base version", p["base_version"]), ("desired version", p.get("desired_version")),
                  ("services", ", ".join(p["services"])), ("digest", p["digest"]),
                  ("created", ts(p["created_at"])), ("expires", ts(p["expires_at"])),
                  ("decided", f"{ts(p['decided_at'])} by {(p['decided_by'] or {}).get('name') or (p['decided_by'] or {}).get('endpoint_id', '')}"
                   if p.get("decided_at") else "-"),
                  ("reason", p.get("decision_reason") or "-")])
    render_changes(p)


@auth_plan.command("show")
@click.argument("plan_id", shell_complete=complete_ids("plans"))
@conn_options
@json_option
def plan_show(plan_id, authority_addr, rcan, as_json: bool) -> None:
    """Show one plan with every change."""
    from ..client import deployments

    with open_authority(authority_addr, rcan) as auth:
        emit(deployments.plan_show(auth, given_deployment(), plan_id, kind=kind()), as_json, _render_plan)


def _accept(classification: str, plan_id: str, acknowledgement: str | None, expected: str | None, yes: bool,
            do_reconcile: bool, root_key: str | None, profile: str | None, authority_addr, rcan, as_json: bool) -> None:
    from aster_core.prompts import confirm, require_answerable

    from ..client import deployments, signing

    dep_id = given_deployment()
    action = f"accept plan {plan_id}"
    if not yes:
        require_answerable(action, "--yes", as_json=as_json)  # before dialling: no terminal, no question
    plan = None
    with open_authority(authority_addr, rcan) as auth:
        if not yes:
            plan = deployments.plan_show(auth, dep_id, plan_id, kind=kind())
            _render_plan(plan)
            if not confirm(f"Accept {plan['classification']} {plan_id} for {prefix()}/{dep_id}?", action=action):
                raise UsageError("not accepted", "nothing was changed; pass --yes to skip the question")
        r = deployments.accept(auth, dep_id, plan_id, classification, kind=kind(), acknowledgement=acknowledgement,
                               expected_version=expected, plan=plan)
        if do_reconcile:
            r["reconcile"] = signing.reconcile(auth, dep_id, kind=kind(), desired_version=r["desired_version"],
                                               root_key_file=root_key, profile=profile)

    def render(r: dict[str, Any]) -> None:
        click.echo(f"Accepted {r['plan']['plan_id']}: {prefix()}/{dep_id} desired version {r['previous_version']} -> "
                   f"{r['desired_version']}")
        if "reconcile" in r:
            render_reconcile(r["reconcile"])
        else:
            info(f"Reconcile needed: aster {prefix()} {dep_id} authority reconcile")

    emit(r, as_json, render)
    exit_on_failed(r.get("reconcile"))


@dep_authority.command("accept-update")
@click.argument("plan_id", shell_complete=complete_ids("plans"))
@click.option("--expected-desired-version", "expected", metavar="V", help="Refuse unless the desired version is V.")
@click.option("--reconcile", "do_reconcile", is_flag=True, help="Reconcile right after accepting.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask.")
@signing_options
@conn_options
@json_option
def accept_update(plan_id, expected, do_reconcile, yes, root_key, profile, authority_addr, rcan, as_json) -> None:
    """Accept a plan classified as an update (every change compatible)."""
    _accept("update", plan_id, None, expected, yes, do_reconcile, root_key, profile, authority_addr, rcan, as_json)


@dep_authority.command("accept-migration")
@click.argument("plan_id", shell_complete=complete_ids("plans"))
@click.option("--acknowledgement", required=True, metavar="TEXT", help="Why breaking callers is acceptable.")
@click.option("--expected-desired-version", "expected", metavar="V", help="Refuse unless the desired version is V.")
@click.option("--reconcile", "do_reconcile", is_flag=True, help="Reconcile right after accepting.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask.")
@signing_options
@conn_options
@json_option
def accept_migration(plan_id, acknowledgement, expected, do_reconcile, yes, root_key, profile, authority_addr, rcan,
                     as_json) -> None:
    """Accept a plan classified as a migration (breaking changes), with an acknowledgement."""
    _accept("migration", plan_id, acknowledgement, expected, yes, do_reconcile, root_key, profile, authority_addr,
            rcan, as_json)


@dep_authority.command("reject")
@click.argument("plan_id", shell_complete=complete_ids("plans"))
@click.option("--reason", metavar="TEXT")
@conn_options
@json_option
def reject(plan_id, reason, authority_addr, rcan, as_json) -> None:
    """Reject a pending plan (stale ones too)."""
    from ..client import deployments

    with open_authority(authority_addr, rcan) as auth:
        r = deployments.reject(auth, given_deployment(), plan_id, kind=kind(), reason=reason)
    emit(r, as_json, lambda r: click.echo(f"Rejected {r['plan']['plan_id']}"))


@dep_authority.command("reconcile")
@click.option("--desired-version", metavar="V", help="Refuse unless the desired version is V.")
@click.option("--dry-run", is_flag=True, help="Only report what would be signed.")
@click.option("-y", "--yes", is_flag=True, help="Sign a needed checkpoint without asking (the state is still shown).")
@signing_options
@conn_options
@json_option
def reconcile(desired_version, dry_run, yes, root_key, profile, authority_addr, rcan, as_json) -> None:
    """Replay the signed decisions, sign here what they back among what is missing, expiring or
    different, upload it; refuse (exit 1) what no decision backs. Report each item."""
    from ..client import signing

    with open_authority(authority_addr, rcan) as auth:
        r = signing.reconcile(auth, given_deployment(), kind=kind(), desired_version=desired_version,
                              root_key_file=root_key, profile=profile, dry_run=dry_run,
                              confirm_checkpoint=checkpoint_confirmation(yes, as_json))
    emit(r, as_json, render_reconcile)
    exit_on_failed(r)


@dep_authority.command("log")
@paging
@conn_options
@json_option
@wide_option
def log(limit, all_pages, authority_addr, rcan, as_json) -> None:
    """The deployment's signed decisions, oldest first: who decided what, when (as the authority
    holds them; reconcile verifies them before signing anything)."""
    from ..client import admins

    with open_authority(authority_addr, rcan) as auth:
        page = admins.log(auth, given_deployment(), kind=kind(), limit=limit, all_pages=all_pages)

    def render(p: dict[str, Any]) -> None:
        # who: the signer's name where its credential gives one, else its endpoint id (whole)
        print_table(["seq", "action", "who", "when", "endpoint", "body"],
                    [(r["seq"], r["action"], r["who"] or r["endpoint_id"], ts(r["decided_at"]), r["endpoint_id"],
                      r["body"]) for r in p["rows"]],
                    ids=("who", "endpoint"), optional=("when", "endpoint", "body"))
        if not p["rows"]:
            info(f"{prefix()}/{given_deployment()} has no decision record yet")
        more(p)

    emit(page, as_json, render)
