"""Decision records: every change that alters what reconcile would sign is signed by the admin who
decided it, and the records of a deployment form a hash chain. Pure (ed25519 through the
``cryptography`` library; no I/O, no clock).

Why: the root key stays offline and the operator's CLI signs credentials, so an authority that
is broken into (its process, host or database) could otherwise make reconcile sign whatever it
lists. With the chain, the CLI replays the signed decisions (:mod:`.replay`), computes the
desired credentials itself, and signs only those. The authority can still withhold (refuse,
stall, hide the newest records); it cannot forge a decision.

The record, as canonical JSON (:data:`.credentials.canonical_json`: sorted keys, compact, UTF-8)::

    {"deployment_id": "payments",             # or "@authority" (AUTHORITY_CHAIN): admin revocations
     "seq": 1,                                 # 1, 2, 3 ... per chain
     "prev": "000...0",                        # HASH of the previous record, 64 zeros for seq 1
     "action": "create",                       # ACTIONS, below
     "body": {...},                            # what was decided (per action, below)
     "decided_at": 1765000000,                 # epoch seconds, never before the previous record's
     "signer": {"endpoint_id": "<64 hex>",     # the deciding admin's node (its .aster-identity key)
                "credential": {...}},          # its root-signed admin or reviewer credential (wire form
                                               #   of aster_trust: type, root_pubkey, expires_at, ...)
     "signature": "<128 hex>"}                 # ed25519 by the signer's node key over the canonical
                                               #   bytes of the record without "signature"

``HASH`` (:func:`record_hash`) is SHA-256 of the canonical bytes of the whole record (signature
included), in hex.

A record verifies (:func:`verify_record`) when: its shape is exactly the above; ``seq`` and
``prev`` extend the chain; the credential is signed by the mesh root, holds ``authority.admin``
in ``aster.role`` (``authority.review`` is enough for ``review_approve``/``review_reject``), is
bound to ``signer.endpoint_id`` (an unbound credential is refused: it would work from any node)
and has not expired at ``decided_at``; the signature verifies under the signer's endpoint key;
the signer was not revoked (on the authority-wide chain) in a second before ``decided_at``.

Actions and bodies (``.replay`` applies them)::

    checkpoint         the whole state (replay.State.as_dict())       root-signed, record 1 only
    create             {kind, roles, namespaces, compatibility, review_mode}
    apply              {digest, services: [[service, version], ...]}  accepted at once on mutable-dev
                                                                      when the service versions stay
    accept             {plan_id, classification, digest, services[, acknowledgement]}
    reject             {plan_id[, reason]}
    grant_add          {consumer, roles}            grant_remove {consumer, roles}
    instance_register  {endpoint_id}                (svc provision)
    device_register    {endpoints: [...]}           (dev provision: a batch, idempotent per device)
    revoke             {instance_id}                (a device's activation)
    review_approve     {review_id[, reason]}        review_reject {review_id[, reason]}
    disable {}  enable {}  remove {cascade, purge[, purge_unused_contracts]}
    restore {}                                      (a removed deployment back as it was)
    purge   {purge_unused_contracts}                (a removed deployment's kept data deleted)
    admin_revoke       {endpoint_id, reason}        on "@authority" only

**Checkpoint** (deployments made before decision records): the chain's first record may be a
``checkpoint`` whose body is the deployment's whole state as the operator saw and confirmed it,
signed with the mesh ROOT key: ``signer`` is ``{"endpoint_id": <root public key hex>,
"credential": null}`` and the signature is the root key's. The authority accepts one only when
its body equals the state its tables hold; everything after it is ordinary records.

Refusals are :class:`~.replay.ChainRefusal` (a :class:`~.errors.Refusal`), ``code`` naming what
failed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from aster_core.text import shown

from .credentials import canonical_json
from .ids import check_deployment_id
from .replay import (ACTIONS, ADMIN_REVOKE, AUTHORITY_ACTIONS, AUTHORITY_CHAIN, CHECKPOINT, CREATE,
                     DEPLOYMENT_ACTIONS, REVIEW_ACTIONS, ChainRefusal, State, replay, state_from_dict, step)

__all__ = ["ACTIONS", "AUTHORITY_CHAIN", "CHECKPOINT", "GENESIS", "ADMIN_ROLE", "REVIEW_ROLE", "ChainRefusal",
           "Head", "Record", "State", "make_record", "sign_record", "make_checkpoint", "record_hash",
           "signing_bytes", "verify_record", "verify_chain", "replay", "state_from_dict", "step"]

GENESIS = "0" * 64
ADMIN_ROLE = "authority.admin"
REVIEW_ROLE = "authority.review"
FIELDS = frozenset({"deployment_id", "seq", "prev", "action", "body", "decided_at", "signer", "signature"})
_HEX = frozenset("0123456789abcdef")


def signing_bytes(record: Mapping[str, Any]) -> bytes:
    """What the signer signs: the canonical record without ``signature``."""
    return canonical_json({k: v for k, v in record.items() if k != "signature"}).encode("utf-8")


def record_hash(record: Mapping[str, Any]) -> str:
    """The next record's ``prev``: SHA-256 of the whole canonical record, hex."""
    return _sha256(canonical_json(dict(record)))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_record(deployment_id: str, seq: int, prev: str, action: str, body: Mapping[str, Any], decided_at: int,
                signer_endpoint: str, credential: Mapping[str, Any] | None) -> dict[str, Any]:
    """An unsigned record (sign it with :func:`sign_record`)."""
    return {"deployment_id": deployment_id, "seq": int(seq), "prev": prev, "action": action, "body": dict(body),
            "decided_at": int(decided_at),
            "signer": {"endpoint_id": signer_endpoint, "credential": dict(credential) if credential else None}}


def sign_record(record: Mapping[str, Any], seed: bytes) -> dict[str, Any]:
    """``record`` signed with the 32-byte ed25519 ``seed`` (the admin's node key, or the root key for
    a checkpoint), which must be the signer's."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.from_private_bytes(seed)
    if key.public_key().public_bytes_raw().hex() != record["signer"]["endpoint_id"]:
        raise ChainRefusal("signature", "the signing key is not the signer's", "sign with the node key of the "
                           "identity file whose credential the record carries")
    unsigned = {k: v for k, v in record.items() if k != "signature"}
    return {**unsigned, "signature": key.sign(signing_bytes(unsigned)).hex()}


def make_checkpoint(state: State, decided_at: int, root_public_hex: str) -> dict[str, Any]:
    """A chain's first record for a deployment made before decision records (sign it with the root key)."""
    return make_record(state.deployment_id, 1, GENESIS, CHECKPOINT, state.as_dict(), decided_at, root_public_hex, None)


@dataclass(frozen=True)
class Head:
    """The last record of a verified chain: what a pin holds (seq 0 and :data:`GENESIS`: empty)."""

    seq: int
    hash: str
    decided_at: int = 0


@dataclass(frozen=True)
class Record:
    """A verified record: the document and what the checks read from it."""

    doc: dict[str, Any]
    hash: str
    signer: str
    #: the signer's credential's ``aster.name``, for `authority log`
    signer_name: str
    credential_expires_at: int | None
    roles: tuple[str, ...]
    #: the whole record as canonical JSON (what is stored, and what ``hash`` is the SHA-256 of)
    text: str = ""


def _shape(record: Any) -> None:
    if not isinstance(record, Mapping) or set(record) != FIELDS:
        keys = sorted(record)[:12] if isinstance(record, Mapping) else type(record).__name__
        raise ChainRefusal("shape", f"a record has exactly the fields {sorted(FIELDS)}, got {keys}")
    seq = record["seq"]
    where = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
    if where is None or seq < 1:
        raise ChainRefusal("shape", f"seq {shown(seq, 20)} is not a whole number from 1")
    for name, size in (("prev", 64), ("signature", 128)):
        v = record[name]
        if not isinstance(v, str) or len(v) != size or not set(v) <= _HEX:
            raise ChainRefusal("shape", f"{name} is not {size} lower-case hex characters", seq=where)
    dep = record["deployment_id"]
    if dep != AUTHORITY_CHAIN:
        try:
            check_deployment_id(dep)
        except Exception:  # noqa: BLE001 - any refusal here is a shape refusal
            raise ChainRefusal("shape", f"deployment_id {shown(dep, 40)} is not a deployment id", seq=where) from None
    actions = AUTHORITY_ACTIONS if dep == AUTHORITY_CHAIN else DEPLOYMENT_ACTIONS
    if record["action"] not in actions:
        raise ChainRefusal("action", f"{shown(record['action'], 30)} is not an action of this chain", seq=where)
    if not isinstance(record["body"], Mapping):
        raise ChainRefusal("shape", "body is not an object", seq=where)
    at = record["decided_at"]
    if isinstance(at, bool) or not isinstance(at, int) or not 0 <= at < 2**63:
        raise ChainRefusal("shape", "decided_at is not whole epoch seconds", seq=where)
    signer = record["signer"]
    if not isinstance(signer, Mapping) or set(signer) != {"endpoint_id", "credential"}:
        raise ChainRefusal("shape", "signer is {endpoint_id, credential}", seq=where)
    ep = signer["endpoint_id"]
    if not isinstance(ep, str) or len(ep) != 64 or not set(ep) <= _HEX:
        raise ChainRefusal("shape", "signer.endpoint_id is not 64 lower-case hex characters", seq=where)
    if signer["credential"] is not None and not isinstance(signer["credential"], Mapping):
        raise ChainRefusal("shape", "signer.credential is not an object", seq=where)


def _signature_ok(public_hex: str, signature_hex: str, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex)).verify(bytes.fromhex(signature_hex), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _credential(doc: Mapping[str, Any], root_pubkey: bytes, seq: int, cache: dict[str, Any] | None) -> Any:
    """The signer's credential, read and checked against the root (signature, structure); cached
    by its canonical form (one cache serves one root key: what is checked depends on nothing else)."""
    from aster_core.errors import AsterError

    from aster_trust.credentials import credential_from_dict, signature_valid, structure_problem

    key = canonical_json(dict(doc))
    if cache is not None and key in cache:
        return cache[key]
    try:
        cred = credential_from_dict(doc, "signer.credential")
    except AsterError as exc:
        raise ChainRefusal("shape", exc.message, seq=seq) from None
    problem = structure_problem(cred)
    if problem:
        raise ChainRefusal("shape", f"signer.credential: {problem}", seq=seq)
    if cred.root_pubkey != root_pubkey:
        raise ChainRefusal("root", "the signer's credential is signed by another root key",
                           "only credentials of this mesh's root decide here", seq=seq)
    if not signature_valid(cred):
        raise ChainRefusal("root", "the signer's credential's signature does not verify", seq=seq)
    if cache is not None:
        cache[key] = cred
    return cred


def verify_record(record: Any, *, root_pubkey: bytes, expected_prev: str, expected_seq: int,
                  revoked: Mapping[str, Mapping[str, Any]] | None = None, not_before: int = 0,
                  credentials: dict[str, Any] | None = None) -> Record:
    """Check one record (see the module's text); a :class:`ChainRefusal` names what failed.

    ``revoked``: signer endpoint -> ``{"revoked_at": ...}`` (the authority-wide chain's state):
    a record it decided after that second is refused (the same second is not ordered across
    chains; the authority itself refuses a revoked signer at once, whatever time it claims).
    ``not_before``: the previous record's ``decided_at``. ``credentials``: signer credentials
    already checked against this ``root_pubkey``, by canonical form (filled here; a chain's
    records, or an authority's many calls, carry the same few)."""
    _shape(record)
    seq = record["seq"]
    if seq != expected_seq:
        raise ChainRefusal("seq", f"seq {seq} where {expected_seq} comes next",
                           "the chain was truncated, reordered or forked", seq=seq)
    if record["prev"] != expected_prev:
        raise ChainRefusal("link", f"prev {record['prev'][:12]}... is not the hash of record {seq - 1} "
                           f"({expected_prev[:12]}...)", "the chain was edited or forked", seq=seq)
    if record["decided_at"] < not_before:
        raise ChainRefusal("time", f"decided at {record['decided_at']}, before the previous record "
                           f"({not_before})", seq=seq)
    signer = record["signer"]
    endpoint = signer["endpoint_id"]
    if record["action"] == CHECKPOINT:
        if signer["credential"] is not None or endpoint != root_pubkey.hex():
            raise ChainRefusal("root", "a checkpoint is signed by the mesh root key itself, with no credential",
                               "sign it with the root key (the reconcile checkpoint flow)", seq=seq)
        if not _signature_ok(endpoint, record["signature"], signing_bytes(record)):
            raise ChainRefusal("signature", "the root key's signature does not verify", seq=seq)
        text = canonical_json(dict(record))
        return Record(dict(record), _sha256(text), endpoint, "root", None, (), text)
    if signer["credential"] is None:
        raise ChainRefusal("shape", "signer.credential is missing: an admin's record carries its credential",
                           seq=seq)
    cred = _credential(signer["credential"], root_pubkey, seq, credentials)
    if cred.endpoint_id is None:
        raise ChainRefusal("unbound", "the signer's credential is bound to no endpoint",
                           "enroll a bound one: aster enroll node ... --capabilities authority.admin", seq=seq)
    if cred.endpoint_id != endpoint:
        raise ChainRefusal("binding", f"the signer's credential is bound to {cred.endpoint_id[:16]}..., not the "
                           f"signer {endpoint[:16]}...", seq=seq)
    roles = tuple(cred.roles())
    allowed = (ADMIN_ROLE, REVIEW_ROLE) if record["action"] in REVIEW_ACTIONS else (ADMIN_ROLE,)
    if not any(r in roles for r in allowed):
        raise ChainRefusal("role", f"the signer's credential holds {', '.join(roles) or 'no role'}, not "
                           f"{' or '.join(allowed)}", seq=seq)
    if cred.expires_at <= record["decided_at"]:
        raise ChainRefusal("expired", f"the signer's credential expired at {cred.expires_at}, before the "
                           f"decision ({record['decided_at']})", seq=seq)
    gone = (revoked or {}).get(endpoint)
    if gone is not None and record["decided_at"] > int(gone.get("revoked_at") or 0):
        raise ChainRefusal("revoked", f"the signer {endpoint[:16]}... was revoked at {gone.get('revoked_at')}"
                           f" ({gone.get('reason') or 'no reason given'})",
                           "a revoked admin decides nothing", seq=seq)
    if not _signature_ok(endpoint, record["signature"], signing_bytes(record)):
        raise ChainRefusal("signature", "the signer's signature does not verify", seq=seq)
    text = canonical_json(dict(record))
    return Record(dict(record), _sha256(text), endpoint, str(cred.attributes.get("aster.name", "")),
                  cred.expires_at, roles, text)


def verify_chain(records: Iterable[Any], *, root_pubkey: bytes,
                 revoked: Mapping[str, Mapping[str, Any]] | None = None, after: Head | None = None,
                 deployment_id: str | None = None) -> Head:
    """Verify ``records`` in order (from record 1, or following ``after``: a head verified before),
    all of one chain (``deployment_id``'s, when given); return the new head. On the
    authority-wide chain each admin revocation applies to the records after it."""
    head = after or Head(0, GENESIS)
    revoked_now = {k: dict(v) for k, v in (revoked or {}).items()}
    cache: dict[str, Any] = {}
    chain: str | None = deployment_id
    for record in records:
        dep = record.get("deployment_id") if isinstance(record, Mapping) else None
        if chain is not None and dep != chain:
            raise ChainRefusal("link", f"a record of {shown(dep)} in the chain of {chain}", seq=head.seq + 1)
        checked = verify_record(record, root_pubkey=root_pubkey, expected_prev=head.hash,
                                expected_seq=head.seq + 1, revoked=revoked_now, not_before=head.decided_at,
                                credentials=cache)
        chain = dep
        if record["action"] == ADMIN_REVOKE:
            target = record["body"].get("endpoint_id")
            if isinstance(target, str):
                revoked_now.setdefault(target, {"revoked_at": record["decided_at"],
                                                "reason": record["body"].get("reason")})
        head = Head(record["seq"], checked.hash, record["decided_at"])
    return head
