"""Signing on the operator's machine: the root key that may sign, provisioning a service
instance, and reconcile (sign exactly what the verified decisions back among what the
authority asks for, upload it; refuse the rest).

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
from typing import Any, Callable, Iterator

from aster_core.errors import AsterError, ExitCode, UsageError

from .. import wire as w
from ..domain.bodies import instance_body
from ..domain.ids import SERVICE
from ..domain.replay import INSTANCE_REGISTER
from .connection import Authority
from .nodes import DEFAULT_IDENTITY
from .root_key import root_for
from .signer import decide

#: Upload batch sizes: a small first batch so the authority starts verifying at once, then
#: large ones (each upload costs a call and a transaction on top of its verifications).
FIRST_BATCH = 50
UPLOAD_BATCH = 250
UPLOADS_IN_FLIGHT = 3


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
    """Make the node key, sign its producer credential (only what the decisions back:
    :func:`.chain.check_template`), register the instance, write ``out`` (0600)."""
    import time

    from aster_core.files import atomic_write, check_new_file, dump_toml

    from .chain import check_template

    from aster_enroll.identity import NodeKey, peer_entry
    from aster_trust import credentials

    path = Path(out)
    check_new_file(path, force)
    node = NodeKey.from_seed(parse_seed(instance_seed)) if instance_seed else NodeKey.generate()
    template = auth.call(w.ADMIN, "provision_template", w.ProvisionInstance(kind, deployment_id, node.endpoint_id))
    # signed only when the verified decisions, with this registration, back exactly this credential
    expires_at = check_template(auth, kind, deployment_id, template, action=INSTANCE_REGISTER,
                                body=instance_body(node.endpoint_id), endpoint_id=node.endpoint_id,
                                now=int(time.time()))
    root = root_for(template["root_pubkey"], root_key_file, profile)
    cred = credentials.sign(root, credentials.PRODUCER, expires_at=expires_at,
                            attributes=template["attributes"], endpoint_id=node.endpoint_id)
    doc = {"node": node.table(), "peers": [peer_entry(template["instance_id"], "producer", cred)],
           "authority": {"address": auth.address, "deployment": deployment_id, "kind": kind,
                         "instance_id": template["instance_id"]}}
    existed = path.exists()
    atomic_write(path, dump_toml(doc), mode=0o600, exclusive=not force)
    try:
        result = decide(auth, deployment_id, INSTANCE_REGISTER, instance_body(node.endpoint_id),
                        lambda record: auth.call(w.ADMIN, "provision", w.ProvisionInstance(
                            kind, deployment_id, node.endpoint_id, cred.to_json(), record)), kind=kind)
    except BaseException:
        if not existed:
            path.unlink(missing_ok=True)  # nothing registered: leave nothing behind
        raise
    return {**result, "identity_file": str(path), "attributes": dict(cred.attributes),
            "root_pubkey": root.public_hex}


def reconcile(auth: Authority, deployment_id: str, *, kind: str = SERVICE, desired_version: str | None = None,
              root_key_file: str | None = None, profile: str | None = None, dry_run: bool = False,
              confirm_checkpoint: Callable[[dict[str, Any]], bool] | None = None,
              now: int | None = None) -> dict[str, Any]:
    """Replay the decisions, then sign exactly what they back among what the authority says is
    missing, expiring or different; upload it; report each item ``current`` / ``pending`` /
    ``failed`` / ``refused``.

    The authority's list is only a request: an item is signed when a credential computed here
    from the verified chain (:mod:`.chain`) has the same type, endpoint and attributes, never
    when it holds an ``authority.*`` role, and it expires at the earlier of what the authority
    asks and now + ``[authority] max_credential_ttl``. Every other item is ``refused`` (``not
    backed by a decision``), never signed. A chain that does not verify or does not extend this
    machine's pin stops everything before any signature. A deployment with no record yet gets
    its checkpoint first (:mod:`.checkpoint`; ``confirm_checkpoint`` shows the state and says
    whether the operator confirmed it).

    Signing and uploading overlap: batch k+1 is signed here while the authority verifies
    and stores batch k (at most :data:`UPLOADS_IN_FLIGHT` uploads outstanding), so the
    operator's machine and the authority work at the same time."""
    import time

    from . import chain
    from .chain import NOT_BACKED, capped, refusal
    from .settings import max_credential_ttl

    now = int(time.time()) if now is None else now
    cap = max_credential_ttl()
    desired = auth.call(w.ADMIN, "desired", w.Desired(kind, deployment_id, desired_version or ""))
    if not isinstance(desired, dict):
        raise AsterError("the authority answered `desired` with no document", "check that the address is an "
                         "aster authority", exit_code=ExitCode.FAILED)
    root_hex = str(desired.get("root_pubkey", ""))
    backed_by = chain.backing(auth, kind, deployment_id, root_hex, now=now)
    checkpointed = None
    if backed_by.needs_checkpoint and not dry_run:
        from .checkpoint import checkpoint

        checkpointed = checkpoint(auth, kind, deployment_id, root_hex, root_key_file=root_key_file, profile=profile,
                                  now=now, confirm=confirm_checkpoint)
        backed_by = chain.backing(auth, kind, deployment_id, root_hex, now=now)
    backed = chain.Backed(backed_by.items)
    items = desired.get("items") if isinstance(desired.get("items"), list) else []
    report: dict[int, dict[str, Any]] = {}
    todo: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    for item in items:
        row = {"subject": str(item.get("subject", "")) if isinstance(item, dict) else "",
               "id": str(item.get("id", "")) if isinstance(item, dict) else "",
               "endpoint_id": str(item.get("endpoint_id", "")) if isinstance(item, dict) else "",
               "status": "current", "action": "kept", "reason": ""}
        report[id(item)] = row
        if backed_by.needs_checkpoint and isinstance(item, dict):  # a dry run before the checkpoint
            if item.get("status") != "current":
                row.update(status="pending", action="checkpoint first",
                           reason="no decision record yet: reconcile shows the state and signs its checkpoint first")
            continue
        why = refusal(item, backed)
        if why is not None:
            row.update(status="refused", action="refused", reason=why)
            continue
        if item.get("status") == "current":
            continue
        key = chain.item_key(item)
        if key in seen:
            row.update(status="refused", action="refused", reason=f"{NOT_BACKED}: listed twice")
            continue
        seen.add(key)
        expires = capped(item["expires_at"], now, cap)
        row["expires_at"] = expires
        if expires < item["expires_at"]:
            row["expiry_capped"] = True
        todo.append({**item, "expires_at": expires})
        report[id(todo[-1])] = row
    if todo and not dry_run:
        root = root_for(root_hex, root_key_file, profile)
        sign_and_upload(auth, kind, deployment_id, root, todo, report)
    elif todo:
        for item in todo:
            report[id(item)].update(status="pending", action="dry-run", reason=str(item.get("reason", "")))
    chain.pin(backed_by)
    rows = [report[id(i)] for i in items]
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in ("current", "pending", "failed", "refused")}
    result = {"deployment_id": deployment_id, "desired_version": desired.get("desired_version", ""), "items": rows,
              "counts": counts, "refused": [r for r in rows if r["status"] == "refused"],
              "chain": {"seq": backed_by.deployment.head.seq, "hash": backed_by.deployment.head.hash},
              "max_credential_ttl": cap}
    if checkpointed is not None:
        result["checkpoint"] = checkpointed
    elif backed_by.needs_checkpoint:
        result["checkpoint_needed"] = True
    return result


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
        results = answer.get("results") if isinstance(answer, dict) else None
        for result in results if isinstance(results, list) else [None]:
            index = result.get("index") if isinstance(result, dict) else None
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(batch):
                raise AsterError("the authority's answer to an upload does not say what became of each credential",
                                 "check that the address is an aster authority; run reconcile again to see what "
                                 "is current", exit_code=ExitCode.FAILED)
            item = batch[index]
            entry = report[id(item)]
            if result.get("status") == "current":
                reason = str(item.get("reason", ""))
                if entry.get("expiry_capped"):
                    reason = (reason + "; " if reason else "") + "expiry capped by [authority] max_credential_ttl"
                entry.update(status="current", action="issued" if item.get("status") == "missing" else "renewed",
                             reason=reason)
            else:
                entry.update(status="failed", action="refused", reason=str(result.get("reason", "")))

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
