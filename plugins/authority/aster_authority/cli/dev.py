"""``aster dev``: device deployments. ``aster dev list``, ``aster dev ID COMMAND`` (the
commands every deployment has, :mod:`.deployment` and :mod:`.plans`, with those of devices:
``create``, ``instances``, ``provision``, :mod:`.activations`, :mod:`.reviews`) and ``aster
dev activate`` on the device. Parse, call :mod:`aster_authority.client`, render.

Exit codes: 0 ok; 1 refused or failed; 2 bad input; 3 denied (not an admin or reviewer,
wrong root key, wrong activation proof, a revoked device, a rejected review); 4 not found
(deployment, device, review, file; a bundle for another deployment); 7 the authority is
unreachable; **10 the device's activation waits for a review** (run ``activate`` again
later, or with ``--wait``).
"""

from __future__ import annotations

from typing import Any

import click

from aster_core.output import emit, info, json_option, print_fields, print_table, wide_option

from ..domain.devices import DEVICE_STATES, EXIT_PENDING
from . import deployment as shared
from .activations import dev_activations
from .common import (ResourceGroup, conn_options, given_deployment, meta_cells, more, open_authority, paging,
                     remember_ids, signing_options, ts)
from .plans import dep_authority
from .reviews import dev_reviews


@click.group("deployment")
def deployment() -> None:
    """One device deployment."""


@click.group(cls=ResourceGroup, deployment=deployment, kind="device")
def dev() -> None:
    """Device deployments: provisioning, activation, reviews, revocation (Trellis-style).

    \b
    aster dev sensors create --review-mode required --role telemetry
    aster dev sensors provision --name hall-1 --serial-number SN1 --out hall-1.bundle.json
    aster dev activate --bundle hall-1.bundle.json --wait          # on the device
    aster dev sensors reviews list --state pending
    aster dev sensors reviews approve REVIEW
    aster dev sensors activations revoke dev_...

    Exit codes: 0 ok, 1 refused, 2 bad input, 3 denied, 4 not found, 7 unreachable,
    10 activation pending review (come back later or pass --wait).
    """


@click.command("create")
@click.option("--review-mode", type=click.Choice(["none", "required"]), default="none", show_default=True,
              help="required: a device's first activation opens a review an admin or reviewer decides.")
@click.option("--role", "roles", multiple=True, metavar="R", help="aster.role its devices get (repeatable).")
@shared.restore_option
@conn_options
@json_option
def dev_create(review_mode, roles, restore, authority_addr, rcan, as_json: bool) -> None:
    """Create the device deployment.

    On the id of a removed deployment: a new one (what the removed one kept is deleted);
    --restore brings the removed one back instead."""
    from ..client import devices

    shared.create_or_restore(
        restore, as_json, authority_addr, rcan,
        lambda auth, dep_id: devices.create(auth, dep_id, review_mode=review_mode, roles=roles),
        lambda d: (click.echo(f"Created dev/{d['deployment_id']} (version {d['version']}, review "
                              f"{d['review_mode']})"),
                   info(f"Next: aster dev {d['deployment_id']} provision --name NAME")))


@click.command("instances")
@click.option("--state", type=click.Choice(DEVICE_STATES), help="Only devices in this state.")
@click.option("--show-metadata", is_flag=True, help="Also show metadata other than name, serial and model.")
@paging
@conn_options
@json_option
@wide_option
def dev_instances(state, show_metadata, limit, all_pages, authority_addr, rcan, as_json: bool) -> None:
    """List the deployment's devices (name, serial and model shown; --show-metadata for the rest)."""
    from ..client import devices

    with open_authority(authority_addr, rcan) as auth:
        page = devices.instances(auth, given_deployment(), state=state, limit=limit, all_pages=all_pages)
    remember_ids("instances", page, "instance_id", filtered=bool(state))

    def render(p: dict[str, Any]) -> None:
        columns = ["instance", "state", "name", "serial", "model"] + (["metadata"] if show_metadata else [])
        print_table(columns, [(i["instance_id"], i["state"], *meta_cells(i["metadata"], show_metadata))
                              for i in p["items"]], optional=("name", "serial", "model", "metadata"))
        more(p)

    emit(page, as_json, render)


@click.command("provision")
@click.option("--name", metavar="NAME", help="Metadata name (with --count: NAME-01, NAME-02, ... zero-padded).")
@click.option("--serial-number", metavar="SERIAL", help="Metadata serial_number (one device).")
@click.option("--model-number", metavar="MODEL", help="Metadata model_number.")
@click.option("--metadata", "pairs", multiple=True, metavar="K=V", help="Other metadata (repeatable).")
@click.option("--out", metavar="FILE", help="The bundle to write (default: <instance id>.bundle.json).")
@click.option("--count", type=int, metavar="N", help="Provision N devices (with --out-dir).")
@click.option("--out-dir", metavar="DIR", help="Where --count writes one bundle per device and index.csv.")
@click.option("--force", is_flag=True, help="Replace an existing --out file or index.csv.")
@click.option("--from-bundles", "from_bundles", metavar="PATH",
              help="Register the devices of existing bundles (a bundle, or a directory of them) instead of making "
                   "new ones: finishes a provision that got no answer; a device already registered with the same "
                   "bundle is left as it is.")
@signing_options
@conn_options
@json_option
def dev_provision(name, serial_number, model_number, pairs, out, count, out_dir, force, from_bundles, root_key,
                  profile, authority_addr, rcan, as_json: bool) -> None:
    """Make devices: root secret here, keys derived, credential signed here, registered, bundle 0600.

    When the authority does not answer a registration in time, the bundles are kept (the
    devices may or may not be registered): check with `instances`, then run `provision
    --from-bundles PATH` as the error says; it is safe to run again.
    """
    from ..client import provisioning
    from ..domain.devices import parse_metadata_pairs

    metadata = parse_metadata_pairs(pairs)
    provisioning.check_provision(name=name, serial_number=serial_number, model_number=model_number,
                                 metadata=metadata, out=out, count=count, out_dir=out_dir, force=force,
                                 from_bundles=from_bundles)

    def progress(done: int, total: int) -> None:
        if total > 1:
            info(f"provisioned {done}/{total}")

    with open_authority(authority_addr, rcan) as auth:
        r = provisioning.provision(auth, given_deployment(), name=name, serial_number=serial_number,
                                   model_number=model_number, metadata=metadata, out=out, count=count,
                                   out_dir=out_dir, force=force, from_bundles=from_bundles, root_key_file=root_key,
                                   profile=profile, progress=progress)

    def render(r: dict[str, Any]) -> None:
        if "already" in r:
            n, already = len(r["devices"]), r["already"]
            click.echo(f"Registered {n - already} device(s) of dev/{r['deployment_id']} from {from_bundles}; "
                       f"{already} already were")
        elif "index" in r:
            click.echo(f"Provisioned {len(r['devices'])} devices of dev/{r['deployment_id']} into "
                       f"{out_dir} (index: {r['index']})")
        else:
            d = r["devices"][0]
            click.echo(f"Provisioned {d['instance_id']} of dev/{r['deployment_id']}; bundle {d['bundle']} (0600)")
            print_fields([("endpoint id", d["endpoint_id"]), ("credential expires", ts(d["expires_at"])),
                          ("metadata", ", ".join(f"{k}={v}" for k, v in sorted(d["metadata"].items())) or "-"),
                          ("review", r["review_mode"])])
        info("Next, on the device: aster dev activate --bundle BUNDLE (the bundle holds its secret: move it "
             "securely)")

    emit(r, as_json, render)


# ── on the device ────────────────────────────────────────────────────────────────


@dev.command("activate")
@click.option("--bundle", required=True, metavar="FILE", help="The provisioning bundle of this device.")
@click.option("--wait", is_flag=True, help="While a review is pending, keep asking (backing off) until --timeout.")
@click.option("--timeout", default="10m", show_default=True, metavar="DURATION", help="How long --wait waits.")
@click.option("--identity", default=".aster-identity", show_default=True, metavar="FILE",
              help="The device's identity file: node key and credential are written here (0600).")
@click.option("--authority", "authority_addr", metavar="ADDR", help="Default: the bundle's authority address.")
@json_option
def dev_activate(bundle, wait, timeout, identity, authority_addr, as_json: bool) -> None:
    """Activate this device: prove its activation key; get its credential now or after review.

    Exit 0 when activated (the credential is in --identity); exit 10 while a review is pending
    (run it again later, or with --wait).
    """
    from aster_core.durations import parse_duration

    from ..client.activation import activate

    seconds = parse_duration(timeout).total_seconds()

    def waiting(answer: dict[str, Any], delay: float) -> None:
        if not as_json:
            info(f"review {(answer.get('review') or {}).get('review_id', '')} pending; asking again in {delay:g}s")

    r = activate(bundle, identity=identity, authority=authority_addr, wait=wait, timeout=seconds,
                 on_wait=waiting)

    def render(r: dict[str, Any]) -> None:
        if r["state"] == "activated":
            click.echo(f"Activated {r['instance_id']} of dev/{r['deployment_id']}; credential written to "
                       f"{r['identity_file']}")
            for w in r["written"]:
                info(f"  peer {w['peer']!r}: roles {','.join(w['roles']) or '-'}, expires {ts(w['expires_at'])}")
            info(f"Renew with: aster authority fetch --identity {r['identity_file']}")
        else:
            review = (r.get("review") or {}).get("review_id", "")
            click.echo(f"Pending: {r['instance_id']} of dev/{r['deployment_id']} waits for review {review}")
            info(f"Run this again once it is approved (or pass --wait); exit code {EXIT_PENDING} means pending")

    emit(r, as_json, render)
    if r["state"] != "activated":
        raise click.exceptions.Exit(EXIT_PENDING)


# the order of `aster dev --help`'s "Commands on one deployment"
for _command in (shared.dep_show, shared.dep_apply, shared.disable, shared.enable, shared.dep_remove, shared.dep_purge,
                 dep_authority,
                 dev_create, dev_instances, dev_provision, dev_activations, dev_reviews):
    deployment.add_command(_command)
dev.add_command(shared.deployments_list)
