"""Signing decision records on the admin's (or reviewer's) machine.

Every command that changes what reconcile would sign (create, apply, accept, reject, disable,
enable, remove, provision, grants, device registration and revocation, review decisions, admin
revocation) sends a decision record (:mod:`aster_authority.domain.decisions`) signed with the
node key of the identity file it connects with (``--rcan`` / ``[authority] credential``): the
file ``aster enroll node ... --capabilities authority.admin`` writes, holding the node key and
the root-signed credential bound to it. The record goes after the chain's current head; when
another decision got there first the authority refuses it (``decision chain moved``) and
:func:`decide` signs against the new head and sends it again (a few times).

The same identity's credential is shown on every call (call metadata,
:data:`~aster_authority.wire.CREDENTIAL_HEADER`): the authority refuses admin and review calls
from a node whose credential is not bound to it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from aster_core.errors import AsterError, UsageError

from .. import wire as w
from ..domain import decisions
from ..domain.credentials import canonical_json

#: sends of one decision when the chain keeps moving under it
ATTEMPTS = 4
_ENROLL = ("use the identity file of a bound admin credential: aster enroll node --role consumer --name NAME "
           "--capabilities authority.admin --identity FILE, then --rcan FILE")


@dataclass(frozen=True)
class Signer:
    """The node key and credential of an admin's or reviewer's identity file."""

    seed: bytes
    endpoint_id: str
    credential: dict[str, Any]
    roles: tuple[str, ...]

    @property
    def header(self) -> dict[str, str]:
        return {w.CREDENTIAL_HEADER: canonical_json(self.credential)}

    @property
    def is_admin(self) -> bool:
        return decisions.ADMIN_ROLE in self.roles


def load_signer(path: str | None) -> Signer | None:
    """The signer of identity file ``path``; None when ``path`` is not an identity file with a node
    key and an authority credential (a bare credential JSON: it can be shown, not sign)."""
    if not path:
        return None
    from aster_core.files import load_toml

    from aster_enroll.identity import validate
    from aster_trust.credentials import credential_from_dict

    file = Path(path)
    if file.suffix == ".json" or not file.is_file():
        return None
    try:
        doc = load_toml(file)
        key = validate(doc, file)
    except AsterError:
        return None
    if key is None:
        return None
    entries = [p for p in doc.get("peers", []) if isinstance(p, dict)]

    def roles_of(entry: Mapping[str, Any]) -> list[str]:
        attrs = entry.get("attributes") if isinstance(entry.get("attributes"), dict) else {}
        return [r.strip() for r in str(attrs.get("aster.role", "")).split(",") if r.strip()]

    ranked = sorted(entries, key=lambda e: (decisions.ADMIN_ROLE not in roles_of(e),
                                            decisions.REVIEW_ROLE not in roles_of(e)))
    for entry in ranked:
        try:
            cred = credential_from_dict(entry, str(file), entry=True)
        except AsterError:
            continue
        return Signer(key.seed, key.endpoint_id, cred.to_dict(), tuple(cred.roles()))
    return None


def require(signer: Signer | None, rcan: str | None) -> Signer:
    if signer is None:
        raise UsageError(f"{rcan or 'no admin credential given'}: deciding needs an identity file holding the node "
                         "key and its bound admin credential (decisions are signed)", _ENROLL)
    return signer


def chain_head(auth: Any, chain: str, *, kind: str, review: bool = False) -> decisions.Head:
    """The head of ``chain`` as the authority has it (reviewers ask the device review service)."""
    if review:
        answer = auth.call(w.DEVICE_REVIEW, "head", w.DeviceRef(chain))
    else:
        answer = auth.call(w.ADMIN, "chain", w.Page(kind, chain, offset=0, limit=1))
    head = answer.get("head") if isinstance(answer, dict) else None
    if not isinstance(head, dict) or not isinstance(head.get("seq"), int) or not isinstance(head.get("hash"), str):
        raise AsterError(f"the authority answered no head for the decision chain of {chain}",
                         "check that the address is an aster authority of this version")
    return decisions.Head(head["seq"], head["hash"], int(head.get("decided_at") or 0))


def sign(signer: Signer, chain: str, head: decisions.Head, action: str, body: Mapping[str, Any],
         now: float | None = None) -> dict[str, Any]:
    """The record following ``head``, signed."""
    at = max(int(time.time() if now is None else now), head.decided_at)
    record = decisions.make_record(chain, head.seq + 1, head.hash, action, body, at, signer.endpoint_id,
                                   signer.credential)
    return decisions.sign_record(record, signer.seed)


def head_of(answer: Any) -> decisions.Head | None:
    """The ``chain_head`` an answer carries (``plan_show`` does), if it is one."""
    head = answer.get("chain_head") if isinstance(answer, dict) else None
    if isinstance(head, dict) and isinstance(head.get("seq"), int) and isinstance(head.get("hash"), str):
        return decisions.Head(head["seq"], head["hash"], int(head.get("decided_at") or 0))
    return None


def decide(auth: Any, chain: str, action: str, body: Mapping[str, Any], send: Callable[[str], Any], *,
           kind: str = "service", head: decisions.Head | None = None) -> Any:
    """Sign ``action`` with ``body`` as the next record of ``chain`` and ``send(record_json)``;
    signed again against the new head when another decision got there first. ``head``: the head
    an answer just gave (saves asking for it; a stale one only costs a retry)."""
    signer = require(getattr(auth, "signer", None), getattr(auth, "rcan", None))
    review = action in decisions.REVIEW_ACTIONS and not signer.is_admin
    for attempt in range(ATTEMPTS):
        if attempt or head is None:
            head = chain_head(auth, chain, kind=kind, review=review)
        record = sign(signer, chain, head, action, body)
        try:
            answer = send(canonical_json(record))
        except AsterError as exc:
            if attempt + 1 == ATTEMPTS or not str(exc.message).startswith(w.CHAIN_MOVED):
                raise
            continue
        # this machine's own decision is pinned: an authority that later drops it is a rollback here
        from .pins import record_own

        record_own(str(signer.credential.get("root_pubkey", "")), chain,
                   decisions.Head(record["seq"], decisions.record_hash(record), record["decided_at"]))
        return answer
    raise AssertionError("unreachable")
