"""``aster dev``: device deployments. Parse, call :mod:`aster_authority.device_ops` (or
:mod:`aster_authority.ops` with ``kind="device"``), render.

The deployment-level commands (``show``, ``apply``, ``disable``, ``enable``, ``remove`` and
the whole ``authority`` group) are the very commands of ``aster svc`` (:mod:`.cli`), which
read the kind from the group that resolved them.

Exit codes: 0 ok; 1 refused or failed; 2 bad input; 3 denied (not an admin or reviewer,
wrong root key, wrong activation proof, a revoked device, a rejected review); 4 not found
(deployment, device, review, file; a bundle for another deployment); 7 the authority is
unreachable; **10 the device's activation waits for a review** (run ``activate`` again
later, or with ``--wait``).
"""

from __future__ import annotations

from typing import Any

import click

from aster_core.output import emit, info, json_option, print_fields, print_table

from . import cli
from .cli import _auth, _conn_options, _dep_id, _more, _paging, _signing_options, _ts
from .devices import DEVICE_STATES, EXIT_PENDING, PROMOTED


@click.group("deployment")
def deployment() -> None:
    """One device deployment."""


for _name in ("show", "apply", "disable", "enable", "remove", "authority"):
    deployment.add_command(cli.deployment.commands[_name])


@click.group(cls=cli._ResourceGroup, deployment=deployment, kind="device")
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


dev.add_command(cli.svc_list, "list")


@deployment.command("create")
@click.option("--review-mode", type=click.Choice(["none", "required"]), default="none", show_default=True,
              help="required: a device's first activation opens a review an admin or reviewer decides.")
@click.option("--role", "roles", multiple=True, metavar="R", help="aster.role its devices get (repeatable).")
@_conn_options
@json_option
def dev_create(review_mode, roles, authority_addr, rcan, as_json: bool) -> None:
    """Create the device deployment."""
    from . import device_ops

    with _auth(authority_addr, rcan) as auth:
        d = device_ops.create(auth, _dep_id(), review_mode=review_mode, roles=roles)
    emit(d, as_json, lambda d: (click.echo(f"Created dev/{d['deployment_id']} (version {d['version']}, review "
                                           f"{d['review_mode']})"),
                                info(f"Next: aster dev {d['deployment_id']} provision --name NAME")))


def _meta_cells(m: dict[str, str], show_all: bool) -> list[str]:
    cells = [m.get(k, "") for k in PROMOTED]
    if show_all:
        cells.append(", ".join(f"{k}={v}" for k, v in sorted(m.items()) if k not in PROMOTED))
    return cells


@deployment.command("instances")
@click.option("--state", type=click.Choice(DEVICE_STATES), help="Only devices in this state.")
@click.option("--show-metadata", is_flag=True, help="Also show metadata other than name, serial and model.")
@_paging
@_conn_options
@json_option
def dev_instances(state, show_metadata, limit, all_pages, authority_addr, rcan, as_json: bool) -> None:
    """List the deployment's devices (name, serial and model shown; --show-metadata for the rest)."""
    from . import device_ops

    with _auth(authority_addr, rcan) as auth:
        page = device_ops.instances(auth, _dep_id(), state=state, limit=limit, all_pages=all_pages)

    def render(p: dict[str, Any]) -> None:
        columns = ["instance", "state", "name", "serial", "model"] + (["metadata"] if show_metadata else [])
        print_table(columns, [(i["instance_id"], i["state"], *_meta_cells(i["metadata"], show_metadata))
                              for i in p["items"]])
        _more(p)

    emit(page, as_json, render)


@deployment.command("provision")
@click.option("--name", metavar="NAME", help="Metadata name (with --count: NAME-01, NAME-02, ... zero-padded).")
@click.option("--serial-number", metavar="SERIAL", help="Metadata serial_number (one device).")
@click.option("--model-number", metavar="MODEL", help="Metadata model_number.")
@click.option("--metadata", "pairs", multiple=True, metavar="K=V", help="Other metadata (repeatable).")
@click.option("--out", metavar="FILE", help="The bundle to write (default: <instance id>.bundle.json).")
@click.option("--count", type=int, metavar="N", help="Provision N devices (with --out-dir).")
@click.option("--out-dir", metavar="DIR", help="Where --count writes one bundle per device and index.csv.")
@click.option("--force", is_flag=True, help="Replace an existing --out file or index.csv.")
@_signing_options
@_conn_options
@json_option
def dev_provision(name, serial_number, model_number, pairs, out, count, out_dir, force, root_key, profile,
                  authority_addr, rcan, as_json: bool) -> None:
    """Make devices: root secret here, keys derived, credential signed here, registered, bundle 0600."""
    from . import device_ops
    from .devices import parse_metadata_pairs

    metadata = parse_metadata_pairs(pairs)
    device_ops.check_provision(name=name, serial_number=serial_number, model_number=model_number, metadata=metadata,
                               out=out, count=count, out_dir=out_dir)

    def progress(done: int, total: int) -> None:
        if total > 1:
            info(f"provisioned {done}/{total}")

    with _auth(authority_addr, rcan) as auth:
        r = device_ops.provision(auth, _dep_id(), name=name, serial_number=serial_number, model_number=model_number,
                                 metadata=metadata, out=out, count=count, out_dir=out_dir, force=force,
                                 root_key_file=root_key, profile=profile, progress=progress)

    def render(r: dict[str, Any]) -> None:
        if "index" in r:
            click.echo(f"Provisioned {len(r['devices'])} devices of dev/{r['deployment_id']} into "
                       f"{out_dir} (index: {r['index']})")
        else:
            d = r["devices"][0]
            click.echo(f"Provisioned {d['instance_id']} of dev/{r['deployment_id']}; bundle {d['bundle']} (0600)")
            print_fields([("endpoint id", d["endpoint_id"]), ("credential expires", _ts(d["expires_at"])),
                          ("metadata", ", ".join(f"{k}={v}" for k, v in sorted(d["metadata"].items())) or "-"),
                          ("review", r["review_mode"])])
        info("Next, on the device: aster dev activate --bundle BUNDLE (the bundle holds its secret: move it "
             "securely)")

    emit(r, as_json, render)


# ── activations ──────────────────────────────────────────────────────────────────


@deployment.group("activations")
def dev_activations() -> None:
    """Activated and revoked devices; revoke one."""


@dev_activations.command("list")
@click.option("--instance", "instance_id", metavar="I", help="Only this device.")
@click.option("--state", type=click.Choice(["activated", "revoked"]))
@_paging
@_conn_options
@json_option
def activations_list(instance_id, state, limit, all_pages, authority_addr, rcan, as_json: bool) -> None:
    """List activations."""
    from . import device_ops

    with _auth(authority_addr, rcan) as auth:
        page = device_ops.activations(auth, _dep_id(), instance_id=instance_id, state=state, limit=limit,
                                      all_pages=all_pages)

    def render(p: dict[str, Any]) -> None:
        print_table(["instance", "state", "name", "activated", "revoked"],
                    [(i["instance_id"], i["state"], i["metadata"].get("name", ""), _ts(i["activated_at"]),
                      _ts(i["revoked_at"])) for i in p["items"]])
        _more(p)

    emit(page, as_json, render)


@dev_activations.command("revoke")
@click.argument("instance_id", metavar="INSTANCE")
@_conn_options
@json_option
def activations_revoke(instance_id, authority_addr, rcan, as_json: bool) -> None:
    """Revoke a device: no more credential release or renewal; producers' gates refuse it."""
    from . import device_ops

    with _auth(authority_addr, rcan) as auth:
        r = device_ops.revoke(auth, _dep_id(), instance_id)
    emit(r, as_json, lambda r: click.echo(f"Revoked {r['instance_id']} (was {r['previous_state']}); its endpoint "
                                          "is on the revocation list" if r["changed"]
                                          else f"{r['instance_id']} was already revoked"))


# ── reviews ──────────────────────────────────────────────────────────────────────


@deployment.group("reviews")
def dev_reviews() -> None:
    """Device reviews (review mode required): list, approve, reject. Admins or authority.review holders."""


@dev_reviews.command("list")
@click.option("--instance", "instance_id", metavar="I", help="Only this device's reviews.")
@click.option("--state", type=click.Choice(["pending", "approved", "rejected"]))
@_paging
@_conn_options
@json_option
def reviews_list(instance_id, state, limit, all_pages, authority_addr, rcan, as_json: bool) -> None:
    """List reviews (oldest first)."""
    from . import device_ops

    with _auth(authority_addr, rcan) as auth:
        page = device_ops.reviews(auth, _dep_id(), instance_id=instance_id, state=state, limit=limit,
                                  all_pages=all_pages)

    def render(p: dict[str, Any]) -> None:
        print_table(["review", "instance", "state", "name", "serial", "model", "requested", "reason"],
                    [(r["review_id"], r["instance_id"], r["state"], *_meta_cells(r["metadata"], False),
                      _ts(r["requested_at"]), r["reason"] or "") for r in p["items"]])
        _more(p)

    emit(page, as_json, render)


def _decide(decision: str) -> Any:
    @click.argument("review_id", metavar="REVIEW")
    @click.option("--reason", metavar="R", help="Why (kept with the review).")
    @_conn_options
    @json_option
    def command(review_id, reason, authority_addr, rcan, as_json: bool) -> None:
        from . import device_ops

        with _auth(authority_addr, rcan) as auth:
            r = device_ops.decide(auth, _dep_id(), review_id, decision, reason=reason)

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

    from . import device_ops

    seconds = parse_duration(timeout).total_seconds()

    def waiting(answer: dict[str, Any], delay: float) -> None:
        if not as_json:
            info(f"review {(answer.get('review') or {}).get('review_id', '')} pending; asking again in {delay:g}s")

    r = device_ops.activate(bundle, identity=identity, authority=authority_addr, wait=wait, timeout=seconds,
                            on_wait=waiting)

    def render(r: dict[str, Any]) -> None:
        if r["state"] == "activated":
            click.echo(f"Activated {r['instance_id']} of dev/{r['deployment_id']}; credential written to "
                       f"{r['identity_file']}")
            for w in r["written"]:
                info(f"  peer {w['peer']!r}: roles {','.join(w['roles']) or '-'}, expires {_ts(w['expires_at'])}")
            info(f"Renew with: aster authority fetch --identity {r['identity_file']}")
        else:
            review = (r.get("review") or {}).get("review_id", "")
            click.echo(f"Pending: {r['instance_id']} of dev/{r['deployment_id']} waits for review {review}")
            info(f"Run this again once it is approved (or pass --wait); exit code {EXIT_PENDING} means pending")

    emit(r, as_json, render)
    if r["state"] != "activated":
        raise click.exceptions.Exit(EXIT_PENDING)
