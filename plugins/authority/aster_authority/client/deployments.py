"""What the ``svc``, ``grants`` and ``authority`` commands do, without click: call the authority,
sign locally, write files, return data.

Signing stays here, on the operator's machine: :func:`provision` and :func:`reconcile` sign
with the profile's root key (keyring) or ``--root-key FILE`` through :mod:`aster_trust`, and
upload what they signed; the authority verifies each credential and stores only those that
match its desired state.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
from pathlib import Path
from typing import Any, Iterable, Iterator

from aster_core.errors import AsterError, ExitCode, UsageError

from .client import ADMIN, NODE, Authority
from .plans import MIGRATION, SERVICE, UPDATE

DEFAULT_IDENTITY = ".aster-identity"
#: Upload batch sizes: a small first batch so the authority starts verifying at once, then
#: large ones (each upload costs a call and a transaction on top of its verifications).
FIRST_BATCH = 50
UPLOAD_BATCH = 250
UPLOADS_IN_FLIGHT = 3


def _ref(kind: str, deployment_id: str, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "deployment_id": deployment_id, **extra}


# ── deployments ──────────────────────────────────────────────────────────────────


def create(auth: Authority, deployment_id: str, *, kind: str = SERVICE, namespaces: Iterable[str] = (),
           compatibility: str = "strict", review_mode: str = "none", roles: Iterable[str] = ()) -> dict[str, Any]:
    return auth.call(ADMIN, "create", _ref(kind, deployment_id, namespaces=list(namespaces),
                                           compatibility=compatibility, review_mode=review_mode, roles=list(roles)))


def show(auth: Authority, deployment_id: str, *, kind: str = SERVICE) -> dict[str, Any]:
    return auth.call(ADMIN, "show", _ref(kind, deployment_id))


def list_deployments(auth: Authority, *, kind: str = SERVICE, include_disabled: bool = False, limit: int = 100,
                     all_pages: bool = False) -> dict[str, Any]:
    return auth.pages(ADMIN, "list", {"kind": kind, "include_disabled": include_disabled}, limit=limit,
                      all_pages=all_pages)


def set_disabled(auth: Authority, deployment_id: str, disabled: bool, *, kind: str = SERVICE) -> dict[str, Any]:
    return auth.call(ADMIN, "set_disabled", _ref(kind, deployment_id, disabled=disabled))


def remove(auth: Authority, deployment_id: str, *, kind: str = SERVICE, cascade: bool = False,
           purge: bool = False) -> dict[str, Any]:
    return auth.call(ADMIN, "remove", _ref(kind, deployment_id, cascade=cascade, purge=purge))


def instances(auth: Authority, deployment_id: str, *, kind: str = SERVICE, include_disabled: bool = False,
              limit: int = 100, all_pages: bool = False) -> dict[str, Any]:
    return auth.pages(ADMIN, "instances", _ref(kind, deployment_id, include_disabled=include_disabled), limit=limit,
                      all_pages=all_pages)


# ── proposals and plans ──────────────────────────────────────────────────────────


def load_proposal(*, source: str | None = None, manifest: str | None = None, image: str | None = None) -> list[dict]:
    """The manifests of ``--source MODULE:CLASS`` (repeatable, comma-separated), ``--manifest PATH``
    or ``--image REF``."""
    given = [x for x in (source, manifest, image) if x]
    if len(given) != 1:
        raise UsageError("give exactly one of --source, --manifest or --image",
                         "e.g. apply --manifest .aster/manifest.json")
    if manifest:
        from aster_contract.export import load_contract_file

        return load_contract_file(Path(manifest))
    if source:
        from aster_contract.manifest import build_manifests

        return build_manifests([s.strip() for s in source.split(",") if s.strip()]).manifests
    from .images import manifests_from_image

    return manifests_from_image(image or "")


def apply(auth: Authority, deployment_id: str, manifests: list[dict], *, kind: str = SERVICE,
          ttl: int | None = None) -> dict[str, Any]:
    return auth.call(ADMIN, "apply", _ref(kind, deployment_id, manifests_json=json.dumps(manifests),
                                          ttl_seconds=int(ttl or 0)))


def plan_list(auth: Authority, deployment_id: str, *, kind: str = SERVICE, state: str | None = None,
              classification: str | None = None, stale: bool = False, limit: int = 100,
              all_pages: bool = False) -> dict[str, Any]:
    return auth.pages(ADMIN, "plan_list", _ref(kind, deployment_id, state=state or "",
                                               classification=classification or "", stale=stale),
                      limit=limit, all_pages=all_pages)


def plan_show(auth: Authority, deployment_id: str, plan_id: str, *, kind: str = SERVICE) -> dict[str, Any]:
    return auth.call(ADMIN, "plan_show", _ref(kind, deployment_id, plan_id=plan_id))


def accept(auth: Authority, deployment_id: str, plan_id: str, classification: str, *, kind: str = SERVICE,
           acknowledgement: str | None = None, expected_version: str | None = None) -> dict[str, Any]:
    if classification not in (UPDATE, MIGRATION):
        raise UsageError(f"unknown classification {classification!r}", "use update or migration")
    return auth.call(ADMIN, "accept", _ref(kind, deployment_id, plan_id=plan_id, classification=classification,
                                           acknowledgement=acknowledgement or "",
                                           expected_version=expected_version or ""))


def reject(auth: Authority, deployment_id: str, plan_id: str, *, kind: str = SERVICE,
           reason: str | None = None) -> dict[str, Any]:
    return auth.call(ADMIN, "reject", _ref(kind, deployment_id, plan_id=plan_id, reason=reason or ""))


# ── signing on this machine ──────────────────────────────────────────────────────


def _root_for(expected_hex: str, root_key_file: str | None, profile: str | None) -> Any:
    from aster_trust.keys import resolve_root_key

    root, source = resolve_root_key(root_key_file, profile)
    if root.public_hex != expected_hex:
        raise AsterError(f"the root key from {source} ({root.public_hex[:16]}...) is not the mesh root the authority "
                         f"trusts ({expected_hex[:16]}...)",
                         "sign with the mesh's root key: --root-key FILE or --profile NAME", exit_code=ExitCode.DENIED)
    return root


def parse_seed(text: str) -> bytes:
    """``--instance-seed``: base64url (padding optional), exactly 32 bytes."""
    value = text.strip()
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        if base64.urlsafe_b64encode(raw).decode().rstrip("=") != value.rstrip("="):
            raise ValueError("not canonical base64url")
    except (binascii.Error, ValueError):
        raise UsageError("--instance-seed is not base64url text",
                         "give 32 bytes as base64url, e.g. from `python -c \"import os,base64;"
                         "print(base64.urlsafe_b64encode(os.urandom(32)).decode())\"`") from None
    if len(raw) != 32:
        raise UsageError(f"--instance-seed must decode to exactly 32 bytes, got {len(raw)}",
                         "give a 32-byte seed as base64url (43 characters)")
    return raw


def provision(auth: Authority, deployment_id: str, *, kind: str = SERVICE, instance_seed: str | None = None,
              out: str | os.PathLike = DEFAULT_IDENTITY, force: bool = False, root_key_file: str | None = None,
              profile: str | None = None) -> dict[str, Any]:
    """Make the node key, sign its producer credential, register the instance, write ``out`` (0600)."""
    from aster_core.files import atomic_write, check_new_file, dump_toml

    from aster_enroll.identity import NodeKey, peer_entry
    from aster_trust import credentials

    path = Path(out)
    check_new_file(path, force)
    node = NodeKey.from_seed(parse_seed(instance_seed)) if instance_seed else NodeKey.generate()
    template = auth.call(ADMIN, "provision_template", _ref(kind, deployment_id, endpoint_id=node.endpoint_id))
    root = _root_for(template["root_pubkey"], root_key_file, profile)
    cred = credentials.sign(root, credentials.PRODUCER, expires_at=template["expires_at"],
                            attributes=template["attributes"], endpoint_id=node.endpoint_id)
    doc = {"node": node.table(), "peers": [peer_entry(template["instance_id"], "producer", cred)],
           "authority": {"address": auth.address, "deployment": deployment_id, "kind": kind,
                         "instance_id": template["instance_id"]}}
    existed = path.exists()
    atomic_write(path, dump_toml(doc), mode=0o600, exclusive=not force)
    try:
        result = auth.call(ADMIN, "provision", _ref(kind, deployment_id, endpoint_id=node.endpoint_id,
                                                    credential_json=cred.to_json()))
    except BaseException:
        if not existed:
            path.unlink(missing_ok=True)  # nothing registered: leave nothing behind
        raise
    return {**result, "identity_file": str(path), "attributes": dict(cred.attributes),
            "root_pubkey": root.public_hex}


def reconcile(auth: Authority, deployment_id: str, *, kind: str = SERVICE, desired_version: str | None = None,
              root_key_file: str | None = None, profile: str | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Sign exactly what is missing, expiring or different, upload it, report each item
    ``current`` / ``pending`` / ``failed``.

    Signing and uploading overlap: batch k+1 is signed here while the authority verifies
    and stores batch k (at most :data:`UPLOADS_IN_FLIGHT` uploads outstanding), so the
    operator's machine and the authority work at the same time."""
    desired = auth.call(ADMIN, "desired", _ref(kind, deployment_id, desired_version=desired_version or ""))
    items = desired["items"]
    todo = [i for i in items if i["status"] != "current"]
    report = {id(i): {"subject": i["subject"], "id": i["id"], "endpoint_id": i["endpoint_id"],
                      "status": "current", "action": "kept", "reason": ""} for i in items}
    if todo and not dry_run:
        root = _root_for(desired["root_pubkey"], root_key_file, profile)
        _sign_and_upload(auth, kind, deployment_id, root, todo, report)
    elif todo:
        for item in todo:
            report[id(item)].update(status="pending", action="dry-run", reason=item["reason"])
    rows = [report[id(i)] for i in items]
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in ("current", "pending", "failed")}
    return {"deployment_id": deployment_id, "desired_version": desired["desired_version"], "items": rows,
            "counts": counts}


def _batches(todo: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """``todo`` in upload batches: :data:`FIRST_BATCH` items, then :data:`UPLOAD_BATCH` at a time."""
    yield todo[:FIRST_BATCH]
    for start in range(FIRST_BATCH, len(todo), UPLOAD_BATCH):
        yield todo[start:start + UPLOAD_BATCH]


def _sign_and_upload(auth: Authority, kind: str, deployment_id: str, root: Any, todo: list[dict[str, Any]],
                     report: dict[int, dict[str, Any]]) -> None:
    from collections import deque

    from aster_trust import credentials

    def record(batch: list[dict[str, Any]], answer: dict[str, Any]) -> None:
        for result in answer["results"]:
            item = batch[result["index"]]
            entry = report[id(item)]
            if result["status"] == "current":
                entry.update(status="current", action="issued" if item["status"] == "missing" else "renewed",
                             reason=item["reason"])
            else:
                entry.update(status="failed", action="refused", reason=result["reason"])

    in_flight: deque = deque()
    try:
        for batch in _batches(todo):
            docs = [credentials.sign(root, item["type"], expires_at=item["expires_at"], attributes=item["attributes"],
                                     endpoint_id=item["endpoint_id"]).to_dict() for item in batch]
            # compact JSON (the C encoder; to_json's indented form costs as much as signing)
            docs = [json.dumps(doc, separators=(",", ":"), ensure_ascii=False) for doc in docs]
            in_flight.append((batch, auth.submit(ADMIN, "upload", _ref(kind, deployment_id, credentials_json=docs))))
            if len(in_flight) >= UPLOADS_IN_FLIGHT:
                record(in_flight[0][0], in_flight[0][1].result())
                in_flight.popleft()
        while in_flight:
            record(in_flight[0][0], in_flight[0][1].result())
            in_flight.popleft()
    finally:
        for _, pending in in_flight:  # an upload failed: let the others finish before reporting the error
            with contextlib.suppress(Exception):
                pending.result()


# ── grants ────────────────────────────────────────────────────────────────────────


def grants_list(auth: Authority, deployment_id: str | None, *, limit: int = 100,
                all_pages: bool = False) -> dict[str, Any]:
    return auth.pages(ADMIN, "grant_list", {"deployment_id": deployment_id or ""}, limit=limit, all_pages=all_pages)


def grant(auth: Authority, deployment_id: str, consumer: str, roles: Iterable[str], *, add: bool) -> dict[str, Any]:
    return auth.call(ADMIN, "grant_add" if add else "grant_remove",
                     {"deployment_id": deployment_id, "consumer": consumer, "roles": list(roles)})


# ── nodes ────────────────────────────────────────────────────────────────────────


def _identity_authority(path: Path) -> dict[str, Any]:
    from aster_core.files import load_toml

    table = load_toml(path).get("authority", {}) if path.exists() else {}
    return table if isinstance(table, dict) else {}


def fetch(address: str | None, identity: str | os.PathLike = DEFAULT_IDENTITY) -> dict[str, Any]:
    """Connect with the node's own key, fetch its credentials, rewrite them in ``identity``
    atomically (every other key, table and comment of the file is kept)."""
    from aster_core.files import update_toml

    from aster_enroll.identity import peer_entry, upsert_peer, validate
    from aster_trust.credentials import credential_from_dict

    from .store import instance_id_for

    path = Path(identity)
    address = address or _identity_authority(path).get("address")
    from .client import authority_address

    address = authority_address(address)  # an address problem before any file is made
    if not path.exists():
        # a new node: make its key now, so the operator can grant its endpoint id
        from aster_core.files import atomic_write

        from aster_enroll.identity import NodeKey

        node = NodeKey.generate()
        atomic_write(path, f'[node]\nsecret_key = "{node.table()["secret_key"]}"\n'
                           f'endpoint_id = "{node.endpoint_id}"\n', mode=0o600, exclusive=True)
    with Authority.as_node(address, path) as auth:
        answer = auth.call(NODE, "fetch", {})
    creds = answer["credentials"]
    if not creds:
        raise AsterError(f"the authority holds no credential for this node (endpoint id {answer['endpoint_id']})",
                         "ask an operator to grant this endpoint id a role (aster grants add) and reconcile, "
                         "then fetch again",
                         exit_code=ExitCode.NOT_FOUND)

    def mutate(doc: dict[str, Any]) -> list[dict[str, Any]]:
        key = validate(doc, path)
        written = []
        for item in creds:
            cred = credential_from_dict(item["credential"], "the authority's credential")
            if key is None or cred.endpoint_id != key.endpoint_id:
                raise AsterError("the authority released a credential bound to another endpoint",
                                 "nothing was written; report this to the operator")
            producer = item["subject"] == "producer"
            name = instance_id_for(cred.endpoint_id) if producer else item["deployment_id"]
            replaced = upsert_peer(doc, peer_entry(name, "producer" if producer else "consumer", cred))
            written.append({"peer": name, "deployment_id": item["deployment_id"], "subject": item["subject"],
                            "expires_at": cred.expires_at, "roles": cred.roles(), "replaced": replaced})
        return written

    written = update_toml(path, mutate, mode=0o600)
    return {"identity_file": str(path), "endpoint_id": answer["endpoint_id"], "written": written}


def status(address: str | None, rcan: str | None) -> dict[str, Any]:
    with Authority.open(address, rcan) as auth:
        info = auth.call(NODE, "status", {})
        return {"address": auth.address, **info}
