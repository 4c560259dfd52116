"""The decision chains on the operator's machine: fetch a deployment's chain and the
authority-wide one, verify every record and link against the mesh root, check both against
this machine's pins, replay them with the state machine the server uses
(:mod:`aster_authority.domain.replay`), and compute locally the credentials the decisions back
(:meth:`~aster_authority.domain.replay.State.desired_items`): what reconcile and provisioning
may sign, and nothing else.

Nothing here trusts the authority's word: a record that does not verify, a chain that does
not extend the pin, or a transition the rules refuse stops the command before anything is
signed. The authority-wide chain (``@authority``: admin revocations) is read first, since a
record signed by an admin revoked before it decided is invalid.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from aster_core.errors import AsterError, ExitCode

from .. import wire as w
from ..domain import decisions
from ..domain.credentials import Policy, canonical_json
from ..domain.ids import PREFIX
from . import pins
from .connection import Authority

#: records fetched per call
PAGE = w.MAX_LIMIT


class ChainRejected(AsterError):
    """The authority's chain does not verify: nothing is signed."""


@dataclass(frozen=True)
class Verified:
    """One verified chain: its records (in order), head and replayed state (None: no record)."""

    chain_id: str
    records: list[dict[str, Any]]
    head: decisions.Head
    state: decisions.State | None

    def hash_at(self, seq: int) -> str | None:
        if 1 <= seq <= len(self.records):
            return self.head.hash if seq == self.head.seq else decisions.record_hash(self.records[seq - 1])
        return None

    @property
    def pin_head(self) -> decisions.Head | None:
        return self.head if self.records else None


@dataclass(frozen=True)
class Backing:
    """What the decisions back for one deployment: the verified chains and the desired items
    computed locally as of ``now`` (empty when the deployment has no record yet: it needs a
    checkpoint)."""

    kind: str
    deployment_id: str
    root_hex: str
    deployment: Verified
    authority: Verified
    now: int
    policy: Policy

    @cached_property
    def items(self) -> list[dict[str, Any]]:
        """Made when asked (reconcile asks; provisioning one device asks only for its own items,
        :func:`items_after`)."""
        state = self.deployment.state
        return state.desired_items(self.now, self.policy) if state is not None else []

    @property
    def needs_checkpoint(self) -> bool:
        return not self.deployment.records

    @property
    def ref(self) -> str:
        return f"{PREFIX.get(self.kind, 'svc')}/{self.deployment_id}"


def item_key(item: dict[str, Any]) -> tuple[str, str, str]:
    """What must be equal for a credential to be backed: type, endpoint and attributes."""
    attributes = item.get("attributes")
    return (str(item.get("type")), str(item.get("endpoint_id")),
            canonical_json(attributes) if isinstance(attributes, dict) else repr(attributes))


#: the words every item reconcile refuses is reported with
NOT_BACKED = "not backed by a decision"


def reserved_roles(attributes: Any) -> list[str]:
    """The ``authority.*`` roles in an item's ``aster.role``: never signed by reconcile, whatever
    the chain says (admin and reviewer credentials come only from an explicit root-key command,
    ``enroll node --capabilities authority.admin``)."""
    from ..domain.ids import RESERVED_PREFIX

    roles = attributes.get("aster.role") if isinstance(attributes, dict) else None
    if not isinstance(roles, str):
        return []
    return [r for r in (x.strip() for x in roles.split(",")) if r.lower().startswith(RESERVED_PREFIX)]


class Backed:
    """The credentials the decisions back, indexed for :func:`refusal`."""

    def __init__(self, items: list[dict[str, Any]]):
        self.keys = {item_key(i): i for i in items}
        self.by_endpoint: dict[str, list[dict[str, Any]]] = {}
        for i in items:
            self.by_endpoint.setdefault(i["endpoint_id"], []).append(i)


def refusal(item: Any, backed: Backed) -> str | None:
    """Why ``item`` (what the authority asks to have signed) must not be signed, or None when a
    locally computed item has exactly its type, endpoint and attributes."""
    from aster_core.text import shown

    if not isinstance(item, dict):
        return f"{NOT_BACKED}: {shown(item, 40)} is not an item"
    reserved = reserved_roles(item.get("attributes"))
    if reserved:
        return f"{NOT_BACKED}: {', '.join(reserved)} is an authority role, never signed by reconcile"
    if item_key(item) in backed.keys:
        if isinstance(item.get("expires_at"), bool) or not isinstance(item.get("expires_at"), int):
            return f"{NOT_BACKED}: its expiry {shown(item.get('expires_at'), 20)} is not a time"
        return None
    same = backed.by_endpoint.get(str(item.get("endpoint_id")), [])
    if not same:
        return f"{NOT_BACKED}: no decision gives endpoint {shown(item.get('endpoint_id'), 20)} a credential here"
    typed = [b for b in same if b["type"] == item.get("type")]
    if not typed:
        return (f"{NOT_BACKED}: the decisions give this endpoint a {same[0]['type']} credential, not "
                f"{shown(item.get('type'), 20)}")
    asked = item.get("attributes")
    asked = canonical_json(asked) if isinstance(asked, dict) else asked
    return (f"{NOT_BACKED}: the decisions give this endpoint {canonical_json(typed[0]['attributes'])}, not "
            f"{shown(asked, 200)}")


def capped(expires_at: int, now: int, cap: int) -> int:
    """The expiry to sign: what the authority asks, at most ``cap`` seconds from ``now``."""
    return min(expires_at, now + cap)


def fetch_records(auth: Authority, kind: str, chain_id: str) -> list[dict[str, Any]]:
    """Every record of ``chain_id`` (a deployment id, or the authority-wide chain), in order.

    Pages are followed only forward (each ``next_offset`` just past the page it ends), so an
    authority cannot keep the command paging in circles."""
    records: list[Any] = []
    offset: int | None = 0
    while offset is not None:
        page = auth.call(w.ADMIN, "chain", w.Page(kind, chain_id, offset=offset, limit=PAGE))
        items = page.get("items") if isinstance(page, dict) else None
        if not isinstance(items, list):
            raise ChainRejected(f"the authority answered the chain of {chain_id} with no list of records",
                                "check that the address is an aster authority", exit_code=ExitCode.FAILED)
        records += items
        following = page.get("next_offset")
        if following is not None and (not items or following != offset + len(items)):
            raise ChainRejected(f"the authority's pages of the chain of {chain_id} do not follow each other "
                                f"(offset {offset}, {len(items)} records, next {following!r}); nothing was signed",
                                "check that the address is an aster authority", exit_code=ExitCode.FAILED)
        offset = following
    return records


def verify(chain_id: str, records: list[Any], root_pubkey: bytes, *,
           revoked: dict[str, dict[str, Any]] | None = None) -> Verified:
    """Verify and replay ``records`` (a :class:`~aster_authority.domain.replay.ChainRefusal`
    becomes :class:`ChainRejected`, naming the record)."""
    if not records:
        return Verified(chain_id, [], decisions.Head(0, decisions.GENESIS), None)
    try:
        head = decisions.verify_chain(records, root_pubkey=root_pubkey, revoked=revoked)
        if records[0].get("deployment_id") != chain_id:
            raise decisions.ChainRefusal("link", f"the chain asked for is {chain_id}, its records are of "
                                         f"{records[0].get('deployment_id')!r}", seq=1)
        state = decisions.replay(records)
    except decisions.ChainRefusal as exc:
        raise ChainRejected(f"the authority's decision chain of {chain_id} does not verify: {exc.message}; "
                            "nothing was signed",
                            "the authority's records were forged, truncated or edited (or signed by a revoked or "
                            "non-admin key): do not reconcile against it until the admins have checked `authority "
                            "log`", exit_code=ExitCode.FAILED) from None
    return Verified(chain_id, [dict(r) for r in records], head, state)


def check_pin(root_hex: str, chain: Verified, ref: str) -> None:
    pins.check_extends(pins.pinned(root_hex, chain.chain_id), chain.pin_head, chain.hash_at, ref=ref)


def backing(auth: Authority, kind: str, deployment_id: str, root_hex: str, *, now: int,
            policy: Policy | None = None) -> Backing:
    """Fetch, verify and pin-check both chains of ``deployment_id`` against the mesh root
    ``root_hex``, replay them, and compute the credentials the decisions back as of ``now``."""
    root = bytes.fromhex(root_hex)
    ref = f"{PREFIX.get(kind, 'svc')}/{deployment_id}"
    authority = verify(decisions.AUTHORITY_CHAIN, fetch_records(auth, kind, decisions.AUTHORITY_CHAIN), root)
    check_pin(root_hex, authority, "the authority-wide chain (admin revocations)")
    revoked = authority.state.revoked_signers if authority.state is not None else {}
    deployment = verify(deployment_id, fetch_records(auth, kind, deployment_id), root, revoked=revoked)
    check_pin(root_hex, deployment, ref)
    state = deployment.state
    if state is not None and state.exists and state.kind != kind:
        raise ChainRejected(f"the decisions make {deployment_id} a {state.kind} deployment, not a {kind} one; "
                            "nothing was signed", f"use `aster {PREFIX.get(state.kind or kind, 'svc')} "
                            f"{deployment_id} ...`", exit_code=ExitCode.USAGE)
    return Backing(kind, deployment_id, root_hex, deployment, authority, now, policy or Policy())


def pin(backed: Backing) -> None:
    """Pin both verified heads (after the work they backed is done)."""
    for chain, ref in ((backed.authority, "the authority-wide chain (admin revocations)"),
                       (backed.deployment, backed.ref)):
        if chain.pin_head is not None:
            pins.advance(backed.root_hex, chain.chain_id, chain.pin_head, chain.hash_at, ref=ref)


def items_after(backed: Backing, action: str, body: dict[str, Any], now: int, *,
                endpoint: str | None = None) -> list[dict[str, Any]]:
    """The credentials the decisions back once ``action`` with ``body`` (a registration this
    command is about to decide) is decided too: the verified state, one step further (only
    ``endpoint``'s, when given)."""
    from ..domain.replay import step

    if backed.deployment.state is None:
        raise ChainRejected(f"{backed.ref} has no decision record yet; nothing was signed",
                            f"reconcile it first: it shows the state and signs its checkpoint (aster "
                            f"{backed.ref.replace('/', ' ')} authority reconcile)", exit_code=ExitCode.FAILED)
    state = backed.deployment.state.copy()
    try:
        step(state, {"deployment_id": backed.deployment_id, "seq": backed.deployment.head.seq + 1,
                     "action": action, "body": body, "decided_at": now})
    except decisions.ChainRefusal as exc:
        raise ChainRejected(f"the decisions of {backed.ref} do not allow this: {exc.message}; nothing was signed",
                            exc.hint, exit_code=ExitCode.FAILED) from None
    return state.desired_items(now, Policy(), endpoint=endpoint)


class NotBacked(AsterError):
    """What the authority asks to have signed is not what the decisions back: nothing is signed."""


def check_template(auth: Authority, kind: str, deployment_id: str, template: dict[str, Any], *, action: str,
                   body: dict[str, Any], endpoint_id: str, now: int) -> int:
    """Provisioning's guard: the credential the authority asks to have signed for a new instance
    or device (``template``: type, attributes, expiry, root) must be exactly the one the verified
    decisions back once this registration (``action``, ``body``) is decided too; else
    :class:`NotBacked` (exit 1) before anything is signed or written. Returns the expiry to sign
    (capped at ``[authority] max_credential_ttl``); pins the verified heads."""
    from .settings import max_credential_ttl

    if not isinstance(template, dict):
        raise NotBacked("the authority answered the provisioning template with no document; nothing was signed",
                        "check that the address is an aster authority", exit_code=ExitCode.FAILED)
    backed_by = backing(auth, kind, deployment_id, str(template.get("root_pubkey", "")), now=now)
    items = items_after(backed_by, action, body, now, endpoint=endpoint_id)
    asked = {"type": template.get("type"), "endpoint_id": endpoint_id, "attributes": template.get("attributes"),
             "expires_at": template.get("expires_at")}
    why = refusal(asked, Backed(items))
    if why is not None:
        attributes = asked["attributes"]
        shown = canonical_json(attributes) if isinstance(attributes, dict) else repr(attributes)
        raise NotBacked(f"the authority asks to sign {asked['type']} credentials for {backed_by.ref} with {shown}: "
                        f"refused: {why}; nothing was signed",
                        f"check `aster {backed_by.ref.replace('/', ' ')} authority log` and who can write to the "
                        "authority's database", exit_code=ExitCode.FAILED)
    pin(backed_by)
    return capped(asked["expires_at"], now, max_credential_ttl())
