"""The commands every deployment has, service or device alike (``aster svc ID show`` and
``aster dev ID show`` are one command, reading the kind from the group that resolved it):
``list``, ``show``, ``apply``, ``disable``, ``enable``, ``remove``, ``purge``, and what
``create`` does with ``--restore`` or on a removed id. Parse, call
:mod:`aster_authority.client.deployments`, render.
"""

from __future__ import annotations

from typing import Any, Callable

import click

from aster_core.errors import UsageError
from aster_core.output import emit, info, json_option, print_table, wide_option

from .common import (conn_options, given_deployment, kind, more, open_authority, paging, prefix, remember_ids,
                     render_changes, render_deployment, ts)


@click.command("list")
@click.option("--disabled", is_flag=True, help="Include disabled deployments.")
@click.option("--removed", is_flag=True, help="List the removed deployments (their data kept) instead.")
@paging
@conn_options
@json_option
@wide_option
def deployments_list(disabled: bool, removed: bool, limit: int, all_pages: bool, authority_addr, rcan,
                     as_json: bool) -> None:
    """List the deployments (of this family: services or devices)."""
    from ..client import deployments

    if disabled and removed:
        raise UsageError("--disabled and --removed cannot be combined", "--removed lists only removed deployments; "
                         "pass one of them")
    with open_authority(authority_addr, rcan) as auth:
        page = deployments.list_deployments(auth, kind=kind(), include_disabled=disabled, removed=removed,
                                            limit=limit, all_pages=all_pages)
    if removed:
        emit(page, as_json, render_removed_list)
        return
    remember_ids("deployments", page, "deployment_id", filtered=not disabled, scope=kind())

    def render(p: dict[str, Any]) -> None:
        print_table(["deployment", "version", "services", "roles", "disabled"],
                    [(d["deployment_id"], d["version"], ", ".join(d["desired_services"]) or "-",
                      ",".join(d["roles"]), "yes" if d["disabled"] else "") for d in p["items"]],
                    optional=("roles", "services"))
        more(p)

    emit(page, as_json, render)


@click.command("show")
@conn_options
@json_option
def dep_show(authority_addr, rcan, as_json: bool) -> None:
    """Show the deployment: desired contract, version, roles, counts, recent history."""
    from ..client import deployments

    with open_authority(authority_addr, rcan) as auth:
        emit(deployments.show(auth, given_deployment(), kind=kind()), as_json, render_shown)


def who(actor: Any) -> str:
    """An actor (``{endpoint_id, name}``) on one line."""
    if not isinstance(actor, dict) or not actor.get("endpoint_id"):
        return "-"
    return f"{actor.get('name') or '(no name)'} ({actor['endpoint_id']})"


def render_shown(d: dict[str, Any]) -> None:
    if not d.get("removed"):
        render_deployment(d)
        return
    click.echo(f"{prefix()}/{d['deployment_id']} is REMOVED")
    render_deployment(d, [("removed at", ts(d["removed_at"])), ("removed by", who(d["removed_by"])),
                          ("revoked then", d.get("revoked", 0)),
                          ("kept", ", ".join(f"{n} {k}" for k, n in d.get("kept", {}).items() if n) or "nothing")])
    info(f"aster {prefix()} {d['deployment_id']} purge deletes what it kept; create --restore brings it back; "
         "create alone starts a new deployment")


def render_removed_list(p: dict[str, Any]) -> None:
    print_table(["deployment", "removed at", "removed by", "version", "services"],
                [(d["deployment_id"], ts(d["removed_at"]), who(d["removed_by"]), d["version"],
                  ", ".join(d["desired_services"]) or "-") for d in p["items"]],
                optional=("services", "version", "removed by"))
    more(p)


#: the ``create`` options that set what a new deployment is; ``--restore`` takes back the removed one's
CREATE_SETTINGS = ("namespaces", "compatibility", "roles", "review_mode")
restore_option = click.option(
    "--restore", is_flag=True,
    help="Bring the removed deployment back as it was (settings, contract, plans, instances; what remove revoked "
         "stays revoked) instead of starting a new one.")


def create_or_restore(restore: bool, as_json: bool, authority_addr, rcan,
                      create: Callable[[Any, str], dict[str, Any]], created: Callable[[dict[str, Any]], None]) -> None:
    """``svc|dev ID create [--restore]``: ``create(auth, id)`` makes a new deployment (on a removed
    id: a new generation, what the removed one kept deleted), ``--restore`` brings the removed one back."""
    from ..client import deployments

    dep_id = given_deployment()
    if restore:
        from click.core import ParameterSource

        ctx = click.get_current_context()
        given = [p.opts[0] for p in ctx.command.params
                 if p.name in CREATE_SETTINGS and ctx.get_parameter_source(p.name) != ParameterSource.DEFAULT]
        if given:
            raise UsageError(f"--restore brings the removed deployment back with its own settings: "
                             f"{', '.join(given)} cannot be given with it", "drop them, or create a new deployment "
                             "without --restore")
    with open_authority(authority_addr, rcan) as auth:
        d = deployments.restore(auth, dep_id, kind=kind()) if restore else create(auth, dep_id)

    def render(d: dict[str, Any]) -> None:
        if d.get("restored"):
            click.echo(f"Restored {prefix()}/{dep_id} (version {d['version']}), removed at {ts(d['removed_at'])}")
            info(f"Next: aster {prefix()} {dep_id} authority reconcile (instances remove revoked stay revoked)")
            return
        created(d)
        if d.get("cleared"):
            info(f"Started clean: what the removed {prefix()}/{dep_id} kept was deleted ("
                 + ", ".join(f"{n} {k}" for k, n in d["cleared"].items()) + "); its decision log stays")

    emit(d, as_json, render)


@click.command("apply")
@click.option("--source", metavar="MODULE:CLASS", help="Build the manifest from service classes (comma-separated).")
@click.option("--manifest", metavar="PATH", help="A manifest (or export) made by `aster contract gen`.")
@click.option("--image", metavar="REF", help="An OCI image (local layout directory or archive; podman/docker).")
@click.option("--ttl", metavar="DURATION", help="Plan expiry (default 7d).")
@conn_options
@json_option
def dep_apply(source, manifest, image, ttl, authority_addr, rcan, as_json: bool) -> None:
    """Propose a contract: the authority classifies it (update or migration) and makes a plan."""
    from aster_core.durations import parse_duration

    from ..client import deployments

    manifests = deployments.load_proposal(source=source, manifest=manifest, image=image)
    seconds = int(parse_duration(ttl).total_seconds()) if ttl else None
    dep_id = given_deployment()
    with open_authority(authority_addr, rcan) as auth:
        result = deployments.apply(auth, dep_id, manifests, kind=kind(), ttl=seconds)

    def render(r: dict[str, Any]) -> None:
        if r["unchanged"]:
            click.echo(f"{prefix()}/{dep_id} already has this contract; nothing to review")
            return
        p = r["plan"]
        if r.get("auto_accepted"):
            click.echo(f"Plan {p['plan_id']} ({p['classification']}) accepted at once (mutable-dev); "
                       f"desired version {r['desired_version']}")
            info(f"Next: aster {prefix()} {dep_id} authority reconcile")
            return
        click.echo(f"{'New' if r['created'] else 'Existing identical'} plan {p['plan_id']}: {p['classification']}, "
                   f"{len(p['changes'])} change(s), {p['breaking']} breaking; expires {ts(p['expires_at'])}")
        render_changes(p)
        verb = "accept-migration PLAN --acknowledgement TEXT" if p["classification"] == "migration" else \
            "accept-update PLAN"
        info(f"Next: aster {prefix()} {dep_id} authority {verb.replace('PLAN', p['plan_id'])}")

    emit(result, as_json, render)


def _toggle(disabled: bool) -> Callable:
    @conn_options
    @json_option
    def command(authority_addr, rcan, as_json: bool) -> None:
        from ..client import deployments

        with open_authority(authority_addr, rcan) as auth:
            d = deployments.set_disabled(auth, given_deployment(), disabled, kind=kind())
        word = "disabled" if disabled else "enabled"
        emit(d, as_json, lambda d: click.echo(f"{prefix()}/{d['deployment_id']} {word} (version {d['version']})"
                                              if d["changed"] else f"{prefix()}/{d['deployment_id']} was already {word}"))

    command.__doc__ = f"{'Disable' if disabled else 'Enable'} the deployment (a new authority version)."
    return command


disable = click.command("disable")(_toggle(True))
enable = click.command("enable")(_toggle(False))


purge_unused_option = click.option(
    "--purge-unused-contracts", "purge_unused", is_flag=True,
    help="Also drop the stored contracts (plan manifests) no other deployment uses.")


@click.command("remove")
@click.option("-f", "--force", "--yes", "force", is_flag=True, help="Do not ask for the typed confirmation.")
@click.option("--cascade", is_flag=True, help="Also revoke its instances and grants.")
@click.option("--purge", is_flag=True, help="Also delete its plans, history and stored credentials (else kept: "
              "`list --removed`, `show`, `purge` later).")
@purge_unused_option
@conn_options
@json_option
def dep_remove(force, cascade, purge, purge_unused, authority_addr, rcan, as_json: bool) -> None:
    """Remove the deployment (asks for the typed `svc/ID` or `dev/ID` unless -f)."""
    from ..client import deployments

    dep_id = given_deployment()
    deployments.check_purge_unused_contracts(purge_unused, purge)  # before asking or signing
    if not force:
        from aster_core.prompts import confirm_typed

        if not confirm_typed(f"{prefix()}/{dep_id}", action=f"remove {prefix()}/{dep_id}", skip="--yes (or -f)",
                             as_json=as_json):
            raise UsageError("confirmation did not match; nothing was removed", f"type {prefix()}/{dep_id} exactly, or pass -f")
    with open_authority(authority_addr, rcan) as auth:
        r = deployments.remove(auth, dep_id, kind=kind(), cascade=cascade, purge=purge,
                               purge_unused_contracts=purge_unused)

    def render(r: dict[str, Any]) -> None:
        click.echo(f"Removed {prefix()}/{dep_id}" + (f"; revoked {len(r['revoked'])} endpoint(s)" if r["revoked"] else ""))
        if r["kept"]:
            kept = ", ".join(f"{n} {k}" for k, n in r["kept"].items())
            info(f"Kept: {kept} (`aster {prefix()} list --removed` and `show` see it; `purge` deletes it, "
                 "`create --restore` brings it back)")
        else:
            info("Purged: " + ", ".join(f"{n} {k}" for k, n in r["purged"].items()))
        render_dropped(r)

    emit(r, as_json, render)


def render_dropped(r: dict[str, Any]) -> None:
    if r.get("contracts_dropped"):
        info(f"Dropped {len(r['contracts_dropped'])} stored contract(s) no deployment uses: "
             + ", ".join(r["contracts_dropped"]))


@click.command("purge")
@click.option("-f", "--force", "--yes", "force", is_flag=True, help="Do not ask for the typed confirmation.")
@purge_unused_option
@conn_options
@json_option
def dep_purge(force, purge_unused, authority_addr, rcan, as_json: bool) -> None:
    """Delete what the removed deployment kept.

    Its plans, history, instances and stored credentials; its decision log stays. Asks for the
    typed `svc/ID` or `dev/ID` unless -f."""
    from ..client import deployments

    dep_id = given_deployment()
    if not force:
        from aster_core.prompts import confirm_typed

        if not confirm_typed(f"{prefix()}/{dep_id}", action=f"purge the removed {prefix()}/{dep_id}",
                             skip="--yes (or -f)", as_json=as_json):
            raise UsageError("confirmation did not match; nothing was purged", f"type {prefix()}/{dep_id} exactly, "
                             "or pass -f")
    with open_authority(authority_addr, rcan) as auth:
        r = deployments.purge(auth, dep_id, kind=kind(), purge_unused_contracts=purge_unused)

    def render(r: dict[str, Any]) -> None:
        click.echo(f"Purged the removed {prefix()}/{dep_id}: "
                   + (", ".join(f"{n} {k}" for k, n in r["purged"].items() if n) or "it kept nothing"))
        render_dropped(r)

    emit(r, as_json, render)
