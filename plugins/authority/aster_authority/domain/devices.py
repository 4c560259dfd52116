"""Device keys, provisioning bundles, activation proofs, and the activation and review state
machines. Pure.

The Trellis scheme, byte-compatible (its test vector is a unit test):
a 32-byte root secret from the OS CSPRNG; HKDF-SHA256 with an empty salt and 32 bytes of
output derives

- ``identity_seed`` (info ``trellis/device-identity/v1``): the device's Aster node key, so
  its endpoint id is the hex of the ed25519 public key (as for every node:
  :class:`aster_enroll.identity.NodeKey`);
- ``activation_key`` (info ``trellis/device-activate/v1``): the secret the authority holds
  to check activation proofs. It never leaves the authority once registered.

An activation proof is ``HMAC-SHA256(activation_key, challenge || endpoint id (32 bytes) ||
utf8(deployment id))`` over a single-use server challenge, so a proof is bound to one
challenge, one device and one deployment: replaying it, or presenting it for another
deployment, fails.

Activation (``decide_activation``), for the device's instance state and review::

    revoked                                  -> refused ("revoked")
    activated                                -> activated (idempotent)
    registered, review_mode none             -> activated
    registered, required, no review          -> a pending review is opened
    registered, required, review pending     -> pending (the same review)
    registered, required, review approved    -> activated
    registered, required, review rejected    -> refused ("rejected")

A review (``decide_review``): pending -> approved | rejected; the same decision again is a
no-op; the other decision on a decided review is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
from dataclasses import asdict, dataclass, replace
from typing import Any, Mapping

from aster_core.errors import ExitCode, UsageError
from aster_core.text import control_in, shown, whole_match

from .errors import Refusal, check_choice, check_note
from .ids import check_deployment_id
from .plans import Actor

IDENTITY_INFO = b"trellis/device-identity/v1"
ACTIVATION_INFO = b"trellis/device-activate/v1"
BUNDLE_FORMAT = "aster.device-bundle/v1"
SECRET_BYTES = 32
#: documented exit code of ``aster dev activate`` when the device waits for a review
EXIT_PENDING = 10
#: device instance states (``disabled``: the instance was disabled, e.g. by ``remove``)
REGISTERED, ACTIVATED, REVOKED, DISABLED = "registered", "activated", "revoked", "disabled"
DEVICE_STATES = (REGISTERED, ACTIVATED, REVOKED, DISABLED)
ACTIVATION_STATES = (ACTIVATED, REVOKED)
REVIEW_STATES = ("pending", "approved", "rejected")
DECISIONS = ("approved", "rejected")
#: the metadata keys the instance table shows as columns
PROMOTED = ("name", "serial_number", "model_number")
_META_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_META_VALUE = 256
MAX_META_KEYS = 32


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def unb64url(text: str, what: str, size: int | None = None) -> bytes:
    value = text.strip() if isinstance(text, str) else ""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        if not value or b64url(raw) != value.rstrip("="):
            raise ValueError
    except (binascii.Error, ValueError):
        raise UsageError(f"{what} is not base64url text", "the bundle holds it as written by `aster dev ID provision`") \
            from None
    if size is not None and len(raw) != size:
        raise UsageError(f"{what} must decode to {size} bytes, got {len(raw)}", "use a bundle written by provision")
    return raw


def _hkdf(secret: bytes, info: bytes) -> bytes:
    """HKDF-SHA256, empty salt, 32 bytes: one extract and one expand block, each an HMAC
    (hashlib's: a fifth of the time of building cryptography's HKDF object per device)."""
    prk = hmac.digest(bytes(32), secret, "sha256")  # an empty salt is hash-length zeros
    return hmac.digest(prk, info + b"\x01", "sha256")


@dataclass(frozen=True)
class DeviceKeys:
    """What one root secret gives: the node key seed, its endpoint id, the activation key."""

    root_secret: bytes
    identity_seed: bytes
    activation_key: bytes
    endpoint_id: str

    @property
    def public_key(self) -> bytes:
        return bytes.fromhex(self.endpoint_id)


def derive(root_secret: bytes) -> DeviceKeys:
    if len(root_secret) != SECRET_BYTES:
        raise UsageError(f"a device root secret is {SECRET_BYTES} bytes, got {len(root_secret)}",
                         "use a bundle written by `aster dev ID provision`")
    from aster_trust.keys import public_key_of

    seed = _hkdf(root_secret, IDENTITY_INFO)
    return DeviceKeys(root_secret, seed, _hkdf(root_secret, ACTIVATION_INFO), public_key_of(seed).hex())


def generate() -> DeviceKeys:
    """A new device: the root secret from the OS CSPRNG."""
    return derive(os.urandom(SECRET_BYTES))


def proof(activation_key: bytes, challenge: bytes, endpoint_id: str, deployment_id: str) -> bytes:
    return hmac.new(activation_key, challenge + bytes.fromhex(endpoint_id) + deployment_id.encode("utf-8"),
                    hashlib.sha256).digest()


def proof_valid(activation_key: bytes, challenge: bytes, endpoint_id: str, deployment_id: str,
                presented: bytes) -> bool:
    return hmac.compare_digest(proof(activation_key, challenge, endpoint_id, deployment_id), presented)


# ── metadata ─────────────────────────────────────────────────────────────────────


def check_metadata(metadata: Any, field_name: str = "metadata") -> dict[str, str]:
    """String keys (letters, digits, ``._-``) to short string values without control characters
    (a name, a serial number: one line wherever it is shown); empty values dropped."""
    if not isinstance(metadata, Mapping):
        raise Refusal("invalid", f"{field_name}: not an object", "give key=value pairs", field=field_name,
                      exit_code=ExitCode.USAGE)
    if len(metadata) > MAX_META_KEYS:
        raise Refusal("invalid", f"{field_name}: {len(metadata)} keys, at most {MAX_META_KEYS}",
                      "keep device metadata small", field=field_name, exit_code=ExitCode.USAGE)
    out = {}
    for key, value in metadata.items():
        if not whole_match(_META_KEY, key):
            raise Refusal("invalid", f"{field_name}: {shown(key, 40)} is not a metadata key",
                          "use letters, digits, '.', '_' or '-' (at most 64)", field=field_name,
                          exit_code=ExitCode.USAGE)
        if not isinstance(value, str) or len(value) > MAX_META_VALUE:
            raise Refusal("invalid", f"{field_name}.{key}: give a string of at most {MAX_META_VALUE} characters",
                          "metadata values are short strings", field=f"{field_name}.{key}", exit_code=ExitCode.USAGE)
        bad = control_in(value)
        if bad:
            raise Refusal("invalid", f"{field_name}.{key}: {shown(value, 40)} holds the control character {bad}",
                          "give one line of text", field=f"{field_name}.{key}", exit_code=ExitCode.USAGE)
        if value:
            out[key] = value
    return out


def parse_metadata_pairs(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``--metadata K=V`` (repeatable): one Error line for a pair without ``=``."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--metadata {pair!r} is not KEY=VALUE", "e.g. --metadata site=berlin (repeatable)")
        out[key.strip()] = value
    try:
        return check_metadata(out, "--metadata")
    except Refusal as exc:
        raise UsageError(exc.message, exc.hint) from None


# ── the bundle ───────────────────────────────────────────────────────────────────


def bundle_document(keys: DeviceKeys, *, authority: str, deployment_id: str, instance_id: str,
                    metadata: Mapping[str, str]) -> dict[str, Any]:
    """What the device needs, and nothing it can derive: the root secret, where the authority is,
    which deployment, and the endpoint id it must come out as (a check on the derivation)."""
    return {"format": BUNDLE_FORMAT, "root_secret": b64url(keys.root_secret), "authority": authority,
            "deployment_id": deployment_id, "instance_id": instance_id, "endpoint_id": keys.endpoint_id,
            "metadata": dict(metadata)}


def bundle_json(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


@dataclass(frozen=True)
class Bundle:
    keys: DeviceKeys
    authority: str
    deployment_id: str
    instance_id: str
    metadata: dict[str, str]


def parse_bundle(doc: Any, source: str) -> Bundle:
    hint = "give the bundle `aster dev ID provision` wrote for this device"
    if not isinstance(doc, dict) or doc.get("format") != BUNDLE_FORMAT:
        raise UsageError(f"{source} is not a device provisioning bundle ({BUNDLE_FORMAT})", hint)
    keys = derive(unb64url(doc.get("root_secret", ""), f"{source}: root_secret", SECRET_BYTES))
    if str(doc.get("endpoint_id", "")).lower() != keys.endpoint_id:
        raise UsageError(f"{source}: its root secret does not give the endpoint id it names", hint)
    deployment_id = doc.get("deployment_id")
    try:
        check_deployment_id(deployment_id)
    except Refusal as exc:
        raise UsageError(f"{source}: {exc.message}", hint) from None
    authority = doc.get("authority")
    if not isinstance(authority, str) or not authority.strip():
        raise UsageError(f"{source}: no authority address", hint)
    metadata = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    return Bundle(keys, authority.strip(), deployment_id, str(doc.get("instance_id", "")), dict(metadata))


# ── activation ───────────────────────────────────────────────────────────────────

OPEN_REVIEW, PENDING = "open_review", "pending"


def decide_activation(state: str, review_mode: str, review_state: str | None, *, ref: str) -> str:
    """``activated`` | ``open_review`` | ``pending`` for a device whose proof held, or a Refusal."""
    if state == REVOKED:
        raise Refusal("revoked", f"this device's activation in {ref} is revoked",
                      "the operator revoked it; provision a new device", exit_code=ExitCode.DENIED)
    if state == DISABLED:
        raise Refusal("disabled", f"this device is disabled in {ref}", "ask the operator", exit_code=ExitCode.DENIED)
    if state == ACTIVATED:
        return ACTIVATED
    if review_mode == "none" or review_state == "approved":
        return ACTIVATED
    if review_state == "rejected":
        raise Refusal("rejected", f"the review of this device in {ref} was rejected",
                      "ask the operator; a rejected device is not activated", exit_code=ExitCode.DENIED)
    return PENDING if review_state == "pending" else OPEN_REVIEW


# ── reviews ──────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Review:
    review_id: str
    deployment_id: str
    instance_id: str
    state: str
    requested_at: int
    decided_at: int | None = None
    reason: str | None = None
    decided_by: dict[str, str] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide_review(review: Review, decision: str, *, now: int, reason: str | None = None,
                  actor: Actor | None = None) -> Review | None:
    """Approve or reject a pending review. The same decision again is a no-op (None);
    the other decision on a decided review is refused."""
    check_choice(decision, DECISIONS, "decision")
    if review.state == decision:
        return None
    if review.state != "pending":
        raise Refusal("wrong_state", f"review {review.review_id} is already {review.state}",
                      "a decided review cannot be reversed; revoke the device instead")
    return replace(review, state=decision, decided_at=now, reason=check_note(reason, "reason"),
                   decided_by=actor.as_dict() if actor else None)
