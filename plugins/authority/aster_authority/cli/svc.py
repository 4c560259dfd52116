"""``aster svc``: service deployments. ``aster svc list`` and ``aster svc ID COMMAND``: the
commands every deployment has (:mod:`.deployment`, :mod:`.plans`) and those of service
instances (``create``, ``instances``, ``provision``). Parse, call :mod:`aster_authority.client`, render.

Exit codes: 0 ok; 1 refused or failed; 2 bad input (the message names the field); 3 denied
(not an admin, wrong root key, namespace); 4 not found (deployment, removed deployment, plan, file); 7 the
authority is unreachable.
"""

from __future__ import annotations

from typing import Any

import click

from aster_core.output import emit, info, json_option, print_fields, print_table, wide_option

from . import deployment as shared
from .common import (ResourceGroup, conn_options, given_deployment, kind, more, open_authority, paging, prefix,
                     remember_ids, signing_options, ts)
from .plans import dep_authority


@click.group("deployment")
def deployment() -> None:
    """One service deployment."""


@click.group(cls=ResourceGroup, deployment=deployment)
def svc() -> None:
    """Service deployments: reviewed authority plans, instances, reconcile (Trellis-style).

    \b
    aster svc list
    aster svc payments create --namespace 'Payment*' --role payments
    aster svc payments apply --manifest .aster/manifest.json
    aster svc payments authority plan list
    aster svc payments authority accept-update PLAN --reconcile
    """


@click.command("create")
@click.option("--namespace", "namespaces", multiple=True, metavar="NS",
              help="Service names it may serve (glob; repeatable). Default: any (*).")
@click.option("--compatibility", type=click.Choice(["strict", "mutable-dev"]), default="strict", show_default=True,
              help="mutable-dev: a proposal keeping the same service versions is accepted at once.")
@click.option("--role", "roles", multiple=True, metavar="R", help="aster.role its instances get (repeatable).")
@shared.restore_option
@conn_options
@json_option
def dep_create(namespaces, compatibility, roles, restore, authority_addr, rcan, as_json: bool) -> None:
    """Create the deployment.

    On the id of a removed deployment: a new one (what the removed one kept is deleted);
    --restore brings the removed one back instead."""
    from ..client import deployments

    shared.create_or_restore(
        restore, as_json, authority_addr, rcan,
        lambda auth, dep_id: deployments.create(auth, dep_id, kind=kind(), namespaces=namespaces,
                                                compatibility=compatibility, roles=roles),
        lambda d: (click.echo(f"Created {prefix()}/{d['deployment_id']} (version {d['version']})"),
                   info(f"Next: aster {prefix()} {d['deployment_id']} apply --manifest FILE")))


@click.command("instances")
@click.option("--disabled", is_flag=True, help="Include disabled and revoked instances.")
@paging
@conn_options
@json_option
@wide_option
def dep_instances(disabled, limit, all_pages, authority_addr, rcan, as_json: bool) -> None:
    """List the deployment's service instances."""
    from ..client import deployments

    with open_authority(authority_addr, rcan) as auth:
        page = deployments.instances(auth, given_deployment(), kind=kind(), include_disabled=disabled, limit=limit,
                                     all_pages=all_pages)
    remember_ids("instances", page, "instance_id", filtered=not disabled)

    def render(p: dict[str, Any]) -> None:
        print_table(["instance", "endpoint", "state", "credential expires"],
                    [(i["instance_id"], i["endpoint_id"], i["state"], ts(i["credential_expires_at"]))
                     for i in p["items"]], optional=("credential expires", "endpoint"))
        more(p)

    emit(page, as_json, render)


@click.command("provision")
@click.option("--instance-seed", metavar="SEED", help="The node key seed: base64url, exactly 32 bytes.")
@click.option("--out", default=".aster-identity", show_default=True, metavar="PATH", help="Identity file to write.")
@click.option("--force", is_flag=True, help="Replace an existing --out file.")
@signing_options
@conn_options
@json_option
def dep_provision(instance_seed, out, force, root_key, profile, authority_addr, rcan, as_json: bool) -> None:
    """Make an instance: node key, producer credential signed here, registered, written to --out (0600)."""
    from ..client import signing

    with open_authority(authority_addr, rcan) as auth:
        r = signing.provision(auth, given_deployment(), kind=kind(), instance_seed=instance_seed, out=out, force=force,
                              root_key_file=root_key, profile=profile)
    emit(r, as_json, lambda r: (
        click.echo(f"Provisioned {r['instance_id']} of {prefix()}/{r['deployment_id']} into {r['identity_file']}"),
        print_fields([("endpoint id", r["endpoint_id"]), ("expires", ts(r["expires_at"])),
                      ("attributes", ", ".join(f"{k}={v}" for k, v in sorted(r["attributes"].items())))]),
        info(f"Run the service with ASTER_IDENTITY_FILE={r['identity_file']} and ASTER_ROOT_PUBKEY={r['root_pubkey']}")))


# the order of `aster svc --help`'s "Commands on one deployment"
for _command in (shared.dep_show, dep_create, shared.dep_apply, shared.disable, shared.enable, shared.dep_remove,
                 shared.dep_purge, dep_instances, dep_provision, dep_authority):
    deployment.add_command(_command)
svc.add_command(shared.deployments_list)
