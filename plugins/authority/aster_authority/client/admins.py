"""The authority's admins and reviewers, and the decision log, without click: ``aster authority
admins list|revoke`` and ``aster svc|dev ID authority log``.

The log shows what the authority holds (who decided what, when); it does not verify the
records: reconcile and provisioning do that before signing anything (:mod:`.chain`).
"""

from __future__ import annotations

from typing import Any

from .. import wire as w
from ..domain import decisions
from ..domain.bodies import admin_revoke_body
from ..domain.credentials import canonical_json
from .connection import Authority
from .signer import decide

#: characters of a record's body the log shows
SHORT_BODY = 80


def admins(auth: Authority, *, limit: int = w.DEFAULT_LIMIT, all_pages: bool = False) -> dict[str, Any]:
    return auth.pages(w.ADMIN, "admins", w.Page(), limit=limit, all_pages=all_pages)


def revoke_admin(auth: Authority, endpoint_id: str, reason: str) -> dict[str, Any]:
    """A signed decision on the authority-wide chain; the authority refuses that signer at once."""
    from aster_core.errors import UsageError

    from aster_trust.keys import parse_endpoint_id

    target = parse_endpoint_id(endpoint_id)
    body = admin_revoke_body(target, reason)
    if not body["reason"]:
        raise UsageError("give the reason for the revocation", "pass --reason TEXT")
    if auth.signer is not None and auth.signer.endpoint_id == target:
        raise UsageError("this is the admin you are connected as", "ask another admin to revoke it")
    return decide(auth, decisions.AUTHORITY_CHAIN, decisions.ADMIN_REVOKE, body, lambda record: auth.call(
        w.ADMIN, "admin_revoke", w.AdminRevoke(target, body["reason"], record)))


def log_row(record: Any) -> dict[str, Any]:
    """One record as the log shows it: seq, action, who (name and endpoint), when, a short body."""
    if not isinstance(record, dict):
        return {"seq": None, "action": "?", "who": "?", "endpoint_id": "", "decided_at": None, "body": ""}
    signer = record.get("signer") if isinstance(record.get("signer"), dict) else {}
    cred = signer.get("credential") if isinstance(signer.get("credential"), dict) else None
    attrs = cred.get("attributes") if cred and isinstance(cred.get("attributes"), dict) else {}
    who = "root key" if cred is None else str(attrs.get("aster.name") or "")
    body = canonical_json(record.get("body")) if isinstance(record.get("body"), dict) else ""
    return {"seq": record.get("seq"), "action": str(record.get("action")), "who": who,
            "endpoint_id": str(signer.get("endpoint_id", "")), "decided_at": record.get("decided_at"),
            "body": body if len(body) <= SHORT_BODY else body[:SHORT_BODY - 3] + "..."}


def log(auth: Authority, deployment_id: str, *, kind: str, limit: int = w.DEFAULT_LIMIT,
        all_pages: bool = False) -> dict[str, Any]:
    """A deployment's chain (or ``@authority``'s), oldest first: the records and a row per record."""
    page = auth.pages(w.ADMIN, "chain", w.Page(kind, deployment_id), limit=limit, all_pages=all_pages)
    page["rows"] = [log_row(r) for r in page.get("items") or []]
    return page
