"""``aster authority serve`` in a subprocess, on 127.0.0.1, for the authority's tests.

    server = AuthorityServer(db, root.pubkey_file, tmp / "authority.key", tmp / "authority.log").start()
    server.address        # the aster1 ticket it printed (loopback only)
    server.kill(); server.start()   # a restart: same database, same node key, same address
    server.stop()

The object names one deployment of the server (database, trusted root, node key, log file)
and runs at most one process of it at a time; ``log`` is a path kept across restarts.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.process import ServerProcess, start_process

REPO = Path(__file__).resolve().parents[2]


@dataclass
class AuthorityServer:
    """``aster authority serve --db DB --root-pubkey ... --identity ...`` (bounded lifetime)."""

    db: str
    root_pubkey_file: Path
    identity: Path
    log: Path
    process: ServerProcess | None = None

    @property
    def address(self) -> str:
        assert self.process is not None, "not started"
        return self.process.address

    @property
    def info(self) -> dict[str, Any]:
        """The ready line of the running (or last) process."""
        return self.process.info if self.process is not None else {}

    def start(self, timeout: float = 40, max_lifetime: float = 400) -> "AuthorityServer":
        argv = [str(Path(sys.executable).with_name("aster")), "authority", "serve", "--db", self.db,
                "--root-pubkey", str(self.root_pubkey_file), "--identity", str(self.identity),
                "--bind", "127.0.0.1", "--max-lifetime", str(max_lifetime)]
        env = dict(os.environ, ASTER_SERVER_LOG_LEVEL="warning", ASTER_LOG_LEVEL="warning")
        self.process = start_process(argv, log_path=self.log, env=env, cwd=REPO, timeout=timeout,
                                     what="aster authority serve")
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout=15)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()


# ── admins in-process: bound credentials and signed decision records ─────────────


@dataclass
class Admin:
    """An admin (or reviewer) of a test authority: its node key, its root-signed credential bound to
    that key, and the decision records it signs, as the CLI does over the wire.

        admin = make_admin(root)                      # root: an aster_trust RootKey
        st = Signed(store, admin)                     # the store's decisions, each with its record
        st.create("service", "tasks", roles=["tasks"])
    """

    seed: bytes
    endpoint_id: str
    credential: dict
    name: str

    @property
    def actor(self) -> Any:
        from aster_authority.domain.plans import Actor

        return Actor(self.endpoint_id, self.name)

    def record(self, store: Any, chain: str, action: str, body: dict, *, at: int | None = None) -> dict:
        """The next record of ``chain`` in ``store``, deciding ``action`` with ``body``, signed."""
        from aster_authority.domain import decisions

        head = store.read(lambda conn: store.head(conn, chain))
        when = max(int(store.now() if at is None else at), head.decided_at)
        return decisions.sign_record(decisions.make_record(chain, head.seq + 1, head.hash, action, body, when,
                                                           self.endpoint_id, self.credential), self.seed)


def make_admin(root: Any, *, name: str = "ops", role: str = "authority.admin", expires_at: int | None = None,
               bound: bool = True) -> Admin:
    """A fresh node key and a credential for it (``aster.role`` = ``role``) signed by ``root``
    (an ``aster_trust.keys.RootKey``); ``bound=False`` makes one bound to no endpoint."""
    import secrets
    import time

    from aster_trust.credentials import sign
    from aster_trust.keys import root_key_from_seed

    seed = secrets.token_bytes(32)
    endpoint_id = root_key_from_seed(seed).public_hex
    cred = sign(root, "policy", expires_at=expires_at or int(time.time()) + 365 * 86400,
                attributes={"aster.role": role, "aster.name": name}, endpoint_id=endpoint_id if bound else None)
    return Admin(seed, endpoint_id, cred.to_dict(), name)


class Signed:
    """A store's decision operations, each sent with the record ``admin`` signs for it (bodies
    from ``aster_authority.domain.bodies``, as the CLI builds them); a record whose place in the
    chain another decision took is signed again against the new head, as the CLI does."""

    ATTEMPTS = 16

    def __init__(self, store: Any, admin: Admin):
        self.store, self.admin = store, admin

    def decide(self, chain: str, action: str, body: dict, call: Any) -> Any:
        from aster_authority.domain.errors import Refusal

        for attempt in range(self.ATTEMPTS):
            try:
                return call(self.admin.record(self.store, chain, action, body))
            except Refusal as exc:
                if exc.code != "chain_moved" or attempt + 1 == self.ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    def create(self, kind: str, deployment_id: str, **kw: Any) -> dict:
        from aster_authority.domain import bodies, plans

        dep = plans.new_deployment(deployment_id, kind, now=0, version="", **kw)
        return self.decide(deployment_id, "create", bodies.create_body(dep), lambda record: self.store.create(
            kind, deployment_id, **kw, actor=self.admin.actor, record=record))

    def set_disabled(self, kind: str, deployment_id: str, disabled: bool) -> dict:
        return self.decide(deployment_id, "disable" if disabled else "enable", {}, lambda record: (
            self.store.set_disabled(kind, deployment_id, disabled, actor=self.admin.actor, record=record)))

    def apply(self, kind: str, deployment_id: str, manifests: list, **kw: Any) -> dict:
        from aster_authority.domain import bodies
        from aster_authority.domain.classify import check_manifests, digest

        checked = check_manifests(manifests)
        return self.decide(deployment_id, "apply", bodies.apply_body(digest(checked), checked), lambda record: (
            self.store.apply(kind, deployment_id, manifests, actor=self.admin.actor, **kw, record=record)))

    def accept(self, kind: str, deployment_id: str, plan_id: str, classification: str,
               acknowledgement: str | None = None, **kw: Any) -> dict:
        from aster_authority.domain import bodies

        plan = self.store.plan_show(kind, deployment_id, plan_id)
        body = bodies.accept_body(plan_id, classification, plan["digest"], plan["manifests"], acknowledgement)
        return self.decide(deployment_id, "accept", body, lambda record: self.store.accept(
            kind, deployment_id, plan_id, classification, actor=self.admin.actor, acknowledgement=acknowledgement,
            **kw, record=record))

    def grant(self, deployment_id: str, consumer: str, roles: list, *, add: bool) -> dict:
        from aster_authority.domain import bodies

        return self.decide(deployment_id, "grant_add" if add else "grant_remove",
                           bodies.grant_body(consumer.lower(), roles), lambda record: self.store.grant(
                               deployment_id, consumer, roles, add=add, actor=self.admin.actor, record=record))

    def provision(self, kind: str, deployment_id: str, endpoint_id: str, doc: Any) -> dict:
        return self.decide(deployment_id, "instance_register", {"endpoint_id": endpoint_id.lower()},
                           lambda record: self.store.provision(kind, deployment_id, endpoint_id, doc,
                                                               actor=self.admin.actor, record=record))

    def register(self, devices: Any, deployment_id: str, docs: list) -> dict:
        body = {"endpoints": [d["endpoint_id"].lower() for d in docs]}
        return self.decide(deployment_id, "device_register", body, lambda record: devices.register(
            deployment_id, docs, actor=self.admin.actor, record=record))

    def revoke(self, devices: Any, deployment_id: str, instance_id: str) -> dict:
        return self.decide(deployment_id, "revoke", {"instance_id": instance_id}, lambda record: devices.revoke(
            deployment_id, instance_id, actor=self.admin.actor, record=record))


def root_checkpoint(store: Any, kind: str, deployment_id: str, root: Any) -> dict:
    """Start the chain of a deployment made before decision records: its state as the store holds
    it, signed with the root key (an ``aster_trust.keys.RootKey``), as reconcile's checkpoint does."""
    from aster_authority.domain import decisions

    state = store.read(lambda conn: store.state_of(conn, deployment_id))
    record = decisions.make_checkpoint(state, store.now(), root.public_hex)
    return store.checkpoint(kind, deployment_id, decisions.sign_record(record, root.seed))
