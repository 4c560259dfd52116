"""A small signed client on the runtime's typed client with our wire types, for the registry
server's tests (the server itself: ``tests.support.registry.start_registry``; mail: the
``smtp`` fixture, ``tests.support.mail``).

    with start_registry(db_url, home=tmp_path / "home", smtp=smtp) as reg:
        async with RegistryClient(reg.address) as c:
            await c.signed("ProfileService", "join", key, handle="alice", email="a@example.org")
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from typing import Any, Iterator


class Key:
    """An ed25519 root key pair (what `aster profile create` keeps in the keyring)."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        self._key = Ed25519PrivateKey.generate()
        self.pub = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()

    def sign(self, data: bytes) -> str:
        return self._key.sign(data).hex()


def envelope(key: Key, action: str, *, ts: int | None = None, nonce: str | None = None, signer: Key | None = None,
             **fields: Any) -> Any:
    """A SignedRequest exactly as aster-cli 0.1.2 builds it."""
    from aster_registry.wire import SignedRequest

    payload = {"action": action, **fields, "timestamp": int(time.time()) if ts is None else ts,
               "nonce": nonce or secrets.token_hex(16)}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return SignedRequest(payload_json=text, signer_pubkey=key.pub, signature=(signer or key).sign(text.encode()))


class RegistryClient:
    """The runtime's typed clients for the three services, over one connection."""

    def __init__(self, address: str) -> None:
        self.address = address

    async def __aenter__(self) -> "RegistryClient":
        from aster import AsterClient

        from aster_registry.server.service import AccessService, ProfileService, PublicationService

        self.client = AsterClient(address=self.address)
        await self.client.connect()
        self.stubs = {"ProfileService": await self.client.client(ProfileService),
                      "PublicationService": await self.client.client(PublicationService),
                      "AccessService": await self.client.client(AccessService)}
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.close()

    async def call(self, service: str, method: str, request: Any) -> Any:
        return await getattr(self.stubs[service], method)(request)

    async def signed(self, service: str, method: str, key: Key, **fields: Any) -> Any:
        return await self.call(service, method, envelope(key, method, **fields))


async def expect_error(coro: Any, code: str, *needles: str) -> str:
    from aster import RpcError

    try:
        result = await coro
    except RpcError as exc:
        assert exc.code.name == code, f"expected {code}, got {exc.code.name}: {exc.message}"
        for needle in needles:
            assert needle in exc.message, f"{needle!r} not in {exc.message!r}"
        return exc.message
    raise AssertionError(f"expected {code}, got a result: {result!r}")


def manifest_for(service_name: str = "TaskService", methods: int = 2, extra: str = "") -> tuple[str, str]:
    """``(manifest_json, contract_id)`` the way aster-cli 0.1.2 computes the directory id."""
    import blake3

    manifest = {"v": 1, "service": service_name, "version": 1, "contract_id": "0" * 64,
                "methods": [{"name": f"m{i}", "pattern": "unary"} for i in range(methods)], "note": extra}
    text = json.dumps(manifest)
    return text, blake3.blake3(text.encode()).hexdigest()


def publish_fields(handle: str, service_name: str = "TaskService", node_id: str | None = None, **over: Any) -> dict:
    manifest_json, cid = manifest_for(service_name)
    fields = {"handle": handle, "service_name": service_name, "contract_id": cid, "manifest_json": manifest_json,
              "description": f"{service_name} of {handle}", "status": "experimental",
              "endpoints": [{"node_id": node_id or secrets.token_hex(32), "relay": "", "registered_at": int(time.time()),
                             "ttl": 300}],
              "delegation": {"authority": "consumer", "mode": "open", "token_ttl": 300, "rate_limit": None,
                             "roles": ["consumer"]}}
    fields.update(over)
    return fields


def count_rows(db: str, table: str) -> int:
    """Rows in ``table`` of the registry database at ``db`` (a refusal must store nothing)."""
    import sqlalchemy as sa

    from aster_server.storage import create_engine

    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
    finally:
        engine.dispose()


@contextlib.contextmanager
def open_store(database_url: str, clock: Any) -> Iterator[Any]:
    """A registry ``Store`` over a migrated database at ``database_url``, on ``clock``."""
    from aster_registry.server import store as st, tables
    from aster_server import storage

    s = st.Store(storage.open_database(database_url, tables.MIGRATIONS), clock=clock)
    s.test_clock = clock
    try:
        yield s
    finally:
        s.engine.dispose()


def store_op(s: Any, key: Key, action: str, **fields: Any) -> Any:
    """One signed operation straight on the store: the envelope opened as the server opens it."""
    from aster_registry.server import protect

    env = protect.open_envelope(envelope(key, action, ts=int(s.clock()), **fields), action, now=s.clock())
    return {"join": s.profiles.join, "verify": s.profiles.verify, "resend_verification": s.profiles.resend,
            "publish": s.publications.publish, "handle_status": s.profiles.handle_status}[action](env)


def handle_row(handle: str, key: Key, now: int) -> dict:
    """A verified handle's row, for tests that insert handles directly."""
    from aster_registry.server import tables

    return {"handle": handle, "pubkey": key.pub, "email": f"{handle}@example.org",
            "email_hash": tables.email_hash(f"{handle}@example.org"), "status": "verified", "announcements": False,
            "created_at": now, "verification_expires_at": now}


class Registry:
    """A store with verified handles; ``publish`` goes through the real signed publish path."""

    def __init__(self, url: str, handles: tuple[str, ...] = ("alice", "bob")) -> None:
        from aster_registry.server import store as st
        from aster_registry.server import tables
        from aster_server import storage
        from tests.support.clock import Clock

        self.clock = Clock()
        self.store = st.Store(storage.open_database(url, tables.MIGRATIONS), clock=self.clock,
                              limits={"publish": (10_000, 60), "signed": (10_000, 60)})
        self.keys = {h: Key() for h in handles}
        with storage.transaction(self.store.engine) as conn:
            conn.execute(tables.t_handles.insert(), [handle_row(h, k, int(self.clock.now)) for h, k in self.keys.items()])

    def publish(self, handle: str, name: str, description: str) -> None:
        self.clock.now += 1  # each one newer than the last
        store_op(self.store, self.keys[handle], "publish", **publish_fields(handle, name, description=description))

    def signed(self, handle: str, action: str, fn, **fields) -> dict:
        from aster_registry.server import protect

        env = protect.open_envelope(envelope(self.keys[handle], action, ts=int(self.clock.now), handle=handle,
                                             **fields), action, now=self.clock.now)
        return fn(env)

    def names(self, query: str, limit: int = 100, offset: int = 0) -> list[str]:
        return [e["service_name"] for e in self.store.directory.discover(query, limit, offset)[1]]

    def total(self, query: str) -> int:
        """discover's count of ``query``, read now (not a page kept from an earlier read: the
        kept counts are what the callers test, pages are test_reads')."""
        self.store.directory.pages.clear()
        return self.store.directory.discover(query, 20, 0)[0]
