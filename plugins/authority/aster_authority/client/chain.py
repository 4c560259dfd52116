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
from typing import Any, Callable

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
    computed locally (empty when the deployment has no record yet: it needs a checkpoint)."""

    kind: str
    deployment_id: str
    root_hex: str
    deployment: Verified
    authority: Verified
    items: list[dict[str, Any]]

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


def fetch_records(auth: Authority, kind: str, chain_id: str) -> list[dict[str, Any]]:
    """Every record of ``chain_id`` (a deployment id, or the authority-wide chain), in order."""
    page = auth.pages(w.ADMIN, "chain", w.Page(kind, chain_id), limit=PAGE, all_pages=True)
    records = page.get("items") if isinstance(page, dict) else None
    if not isinstance(records, list):
        raise ChainRejected(f"the authority answered the chain of {chain_id} with no list of records",
                            "check that the address is an aster authority", exit_code=ExitCode.FAILED)
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
            policy: Policy | None = None,
            fetch: Callable[[Authority, str, str], list[dict[str, Any]]] = fetch_records) -> Backing:
    """Fetch, verify and pin-check both chains of ``deployment_id`` against the mesh root
    ``root_hex``, replay them, and compute the credentials the decisions back as of ``now``."""
    root = bytes.fromhex(root_hex)
    ref = f"{PREFIX.get(kind, 'svc')}/{deployment_id}"
    authority = verify(decisions.AUTHORITY_CHAIN, fetch(auth, kind, decisions.AUTHORITY_CHAIN), root)
    check_pin(root_hex, authority, "the authority-wide chain (admin revocations)")
    revoked = authority.state.revoked_signers if authority.state is not None else {}
    deployment = verify(deployment_id, fetch(auth, kind, deployment_id), root, revoked=revoked)
    check_pin(root_hex, deployment, ref)
    state = deployment.state
    if state is not None and state.exists and state.kind != kind:
        raise ChainRejected(f"the decisions make {deployment_id} a {state.kind} deployment, not a {kind} one; "
                            "nothing was signed", f"use `aster {PREFIX.get(state.kind or kind, 'svc')} "
                            f"{deployment_id} ...`", exit_code=ExitCode.USAGE)
    items = state.desired_items(now, policy or Policy()) if state is not None else []
    return Backing(kind, deployment_id, root_hex, deployment, authority, items)


def pin(backed: Backing) -> None:
    """Pin both verified heads (after the work they backed is done)."""
    for chain, ref in ((backed.authority, "the authority-wide chain (admin revocations)"),
                       (backed.deployment, backed.ref)):
        if chain.pin_head is not None:
            pins.advance(backed.root_hex, chain.chain_id, chain.pin_head, chain.hash_at, ref=ref)
