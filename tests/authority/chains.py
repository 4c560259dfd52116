"""Decision chains written by hand for the reconcile tests: admins (a node key and its root-signed
credential), records signed with the domain's own functions (aster_authority.domain.decisions),
and a hostile authority scripted to serve them.

    admin = make_admin(root)                        # bound, authority.admin, 1 hour
    chain = Chain("payments")
    chain.add(admin, "create", {"kind": "service", "roles": ["tasks"], ...})
    serve(evil, {"payments": chain.records})        # AuthorityAdmin.chain pages them
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from aster_authority.domain import decisions


def trust_root(root: Any) -> Any:
    """``tests.support.credentials.RootKey`` as the trust library's key (what the CLI signs with)."""
    from aster_trust.keys import root_key_from_seed

    return root_key_from_seed(root.private_key)


@dataclass(frozen=True)
class Admin:
    seed: bytes
    endpoint_id: str
    credential: dict[str, Any]


def make_admin(root: Any, *, roles: str = "authority.admin", bound: bool = True, name: str = "ops",
               expires_at: int | None = None) -> Admin:
    """A node key and its credential signed by ``root`` (a tests.support RootKey)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from aster_trust import credentials

    seed = os.urandom(32)
    endpoint = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw().hex()
    cred = credentials.sign(trust_root(root), "policy", expires_at=expires_at or int(time.time()) + 3600,
                            attributes={"aster.role": roles, "aster.name": name},
                            endpoint_id=endpoint if bound else None)
    return Admin(seed, endpoint, cred.to_dict())


@dataclass
class Chain:
    """One chain's records, each signed as it is added."""

    chain_id: str
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def head(self) -> str:
        return decisions.record_hash(self.records[-1]) if self.records else decisions.GENESIS

    def add(self, signer: Admin, action: str, body: dict[str, Any], *, decided_at: int | None = None,
            seq: int | None = None, prev: str | None = None) -> dict[str, Any]:
        at = decided_at if decided_at is not None else (self.records[-1]["decided_at"] if self.records
                                                        else int(time.time()) - 600)
        record = decisions.make_record(self.chain_id, seq or len(self.records) + 1, prev or self.head, action, body,
                                       at, signer.endpoint_id, signer.credential)
        signed = decisions.sign_record(record, signer.seed)
        self.records.append(signed)
        return signed

    def copy(self, upto: int | None = None) -> "Chain":
        return Chain(self.chain_id, [dict(r) for r in self.records[:upto]])


def serve(evil: Any, chains: dict[str, list[dict[str, Any]]]) -> None:
    """Script ``AuthorityAdmin.chain`` on ``evil`` to page ``chains`` (chain id -> records); a chain
    not named is empty."""

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        records = chains.get(request["deployment_id"], [])
        offset, limit = int(request.get("offset") or 0), int(request.get("limit") or 100)
        page = records[offset:offset + limit]
        more = offset + limit < len(records)
        head = {"seq": len(records), "hash": decisions.record_hash(records[-1]) if records else decisions.GENESIS,
                "decided_at": records[-1]["decided_at"] if records else 0}
        return {"items": page, "next_offset": offset + limit if more else None, "deployment_id":
                request["deployment_id"], "head": head}

    evil.answer("AuthorityAdmin.chain", answer)
