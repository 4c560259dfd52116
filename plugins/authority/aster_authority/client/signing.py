"""Signing on the operator's machine: the root key that may sign, provisioning a service
instance, and reconcile (sign exactly what the desired state lacks, upload it).

The authority never holds the root private key: these sign with the profile's root key
(keyring) or ``--root-key FILE`` through :mod:`aster_trust` and upload what they signed; the
authority verifies each credential and stores only those that match its desired state.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
from pathlib import Path
from typing import Any, Iterator

from aster_core.errors import AsterError, ExitCode, UsageError

from .. import wire as w
from ..domain.ids import SERVICE
from .connection import Authority
from .nodes import DEFAULT_IDENTITY

#: Upload batch sizes: a small first batch so the authority starts verifying at once, then
#: large ones (each upload costs a call and a transaction on top of its verifications).
FIRST_BATCH = 50
UPLOAD_BATCH = 250
UPLOADS_IN_FLIGHT = 3


def root_for(expected_hex: str, root_key_file: str | None, profile: str | None) -> Any:
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
    template = auth.call(w.ADMIN, "provision_template", w.ProvisionInstance(kind, deployment_id, node.endpoint_id))
    root = root_for(template["root_pubkey"], root_key_file, profile)
    cred = credentials.sign(root, credentials.PRODUCER, expires_at=template["expires_at"],
                            attributes=template["attributes"], endpoint_id=node.endpoint_id)
    doc = {"node": node.table(), "peers": [peer_entry(template["instance_id"], "producer", cred)],
           "authority": {"address": auth.address, "deployment": deployment_id, "kind": kind,
                         "instance_id": template["instance_id"]}}
    existed = path.exists()
    atomic_write(path, dump_toml(doc), mode=0o600, exclusive=not force)
    try:
        result = auth.call(w.ADMIN, "provision", w.ProvisionInstance(kind, deployment_id, node.endpoint_id,
                                                                     cred.to_json()))
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
    desired = auth.call(w.ADMIN, "desired", w.Desired(kind, deployment_id, desired_version or ""))
    items = desired["items"]
    todo = [i for i in items if i["status"] != "current"]
    report = {id(i): {"subject": i["subject"], "id": i["id"], "endpoint_id": i["endpoint_id"],
                      "status": "current", "action": "kept", "reason": ""} for i in items}
    if todo and not dry_run:
        root = root_for(desired["root_pubkey"], root_key_file, profile)
        sign_and_upload(auth, kind, deployment_id, root, todo, report)
    elif todo:
        for item in todo:
            report[id(item)].update(status="pending", action="dry-run", reason=item["reason"])
    rows = [report[id(i)] for i in items]
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in ("current", "pending", "failed")}
    return {"deployment_id": deployment_id, "desired_version": desired["desired_version"], "items": rows,
            "counts": counts}


def batches(todo: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """``todo`` in upload batches: :data:`FIRST_BATCH` items, then :data:`UPLOAD_BATCH` at a time."""
    yield todo[:FIRST_BATCH]
    for start in range(FIRST_BATCH, len(todo), UPLOAD_BATCH):
        yield todo[start:start + UPLOAD_BATCH]


def sign_and_upload(auth: Authority, kind: str, deployment_id: str, root: Any, todo: list[dict[str, Any]],
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
        for batch in batches(todo):
            docs = [credentials.sign(root, item["type"], expires_at=item["expires_at"], attributes=item["attributes"],
                                     endpoint_id=item["endpoint_id"]).to_dict() for item in batch]
            # compact JSON (the C encoder; to_json's indented form costs as much as signing)
            docs = [json.dumps(doc, separators=(",", ":"), ensure_ascii=False) for doc in docs]
            in_flight.append((batch, auth.submit(w.ADMIN, "upload", w.Upload(kind, deployment_id, docs))))
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
