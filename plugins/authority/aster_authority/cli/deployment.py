"""The commands every deployment has, service or device alike (``aster svc ID show`` and
``aster dev ID show`` are one command, reading the kind from the group that resolved it):
``list``, ``show``, ``apply``, ``disable``, ``enable``, ``remove``. Parse, call
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
@paging
@conn_options
@json_option
@wide_option
def deployments_list(disabled: bool, limit: int, all_pages: bool, authority_addr, rcan, as_json: bool) -> None:
    """List the deployments (of this family: services or devices)."""
    from ..client import deployments

    with open_authority(authority_addr, rcan) as auth:
        page = deployments.list_deployments(auth, kind=kind(), include_disabled=disabled, limit=limit,
                                            all_pages=all_pages)
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
        emit(deployments.show(auth, given_deployment(), kind=kind()), as_json, render_deployment)


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


@click.command("remove")
@click.option("-f", "--force", "--yes", "force", is_flag=True, help="Do not ask for the typed confirmation.")
@click.option("--cascade", is_flag=True, help="Also revoke its instances and grants.")
@click.option("--purge", is_flag=True, help="Also delete its plans, history and stored credentials.")
@conn_options
@json_option
def dep_remove(force, cascade, purge, authority_addr, rcan, as_json: bool) -> None:
    """Remove the deployment (asks for the typed `svc/ID` or `dev/ID` unless -f)."""
    from ..client import deployments

    dep_id = given_deployment()
    if not force:
        from aster_core.prompts import confirm_typed

        if not confirm_typed(f"{prefix()}/{dep_id}", action=f"remove {prefix()}/{dep_id}", skip="--yes (or -f)",
                             as_json=as_json):
            raise UsageError("confirmation did not match; nothing was removed", f"type {prefix()}/{dep_id} exactly, or pass -f")
    with open_authority(authority_addr, rcan) as auth:
        r = deployments.remove(auth, dep_id, kind=kind(), cascade=cascade, purge=purge)

    def render(r: dict[str, Any]) -> None:
        click.echo(f"Removed {prefix()}/{dep_id}" + (f"; revoked {len(r['revoked'])} endpoint(s)" if r["revoked"] else ""))
        if r["kept"]:
            kept = ", ".join(f"{n} {k}" for k, n in r["kept"].items())
            info(f"Kept: {kept} (--purge removes them)")
        else:
            info("Purged: " + ", ".join(f"{n} {k}" for k, n in r["purged"].items()))

    emit(r, as_json, render)
