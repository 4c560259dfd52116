"""An interceptor a producer adds to refuse callers the authority revoked.

    from aster_authority.gate import AuthorityGate

    gate = AuthorityGate("aster1...", "payments", refresh=30, grace=3600, cache_file="revocations.json")
    server = AsterServer([TaskService()], interceptors=[gate], ...)

Every call is checked against the deployment's revocation list. The authority gives it only to
the deployment's own nodes (it holds every grantee's endpoint and roles), so the gate connects
with the producer's node key (``identity``, default: the producer's own ``.aster-identity`` as
the runtime finds it, or ``ASTER_SECRET_KEY``) and presents no credential: the connection proves
the producer's endpoint id, which the authority knows as a live instance of the deployment (for
a device deployment, of any service deployment: the producers devices call).

- the caller's endpoint id is revoked (grant removed, deployment removed, roles reduced and
  no new credential yet): PERMISSION_DENIED;
- with ``strict_roles`` (default) a grantee presenting roles the authority no longer grants
  it (an older credential still valid by its expiry): PERMISSION_DENIED;
- with ``refuse_unknown`` callers the authority never granted anything: PERMISSION_DENIED.

The list is fetched when older than ``refresh`` seconds (one fetch at a time; the call that
finds it old waits for it, so a revocation holds within ``refresh`` seconds) and written to
``cache_file`` when given, so a restarted producer starts with it. When the authority cannot be reached the last list keeps
being used for ``grace`` seconds after it was fetched; after that every call is refused
(UNAVAILABLE) until the authority answers again: fail closed.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any, Callable

from aster.interceptors.base import CallContext, Interceptor
from aster.status import RpcError, StatusCode

from aster_core.errors import AsterError
from aster_core.jsonlimits import loads_limited

FETCH_TIMEOUT = 5.0


class AuthorityGate(Interceptor):
    def __init__(self, authority: str, deployment_id: str, *, refresh: float = 30.0, grace: float = 3600.0,
                 cache_file: str | os.PathLike | None = None, strict_roles: bool = True,
                 refuse_unknown: bool = False, clock: Callable[[], float] = time.time,
                 identity: str | os.PathLike | None = None):
        self.authority = authority
        self.deployment_id = deployment_id
        self.refresh = refresh
        self.grace = grace
        self.cache_file = Path(cache_file) if cache_file else None
        self.strict_roles = strict_roles
        self.refuse_unknown = refuse_unknown
        self.clock = clock
        self.identity = str(identity) if identity else None
        self.fetched_at: float | None = None
        self.last_error: str | None = None
        self._revoked: dict[str, str] = {}
        self._granted: dict[str, set[str]] = {}
        self._lock = asyncio.Lock()
        self._last_attempt: float | None = None
        self._load_cache()

    # -- the list ------------------------------------------------------------------------
    def _install(self, doc: dict[str, Any], fetched_at: float) -> None:
        self._revoked = {r["endpoint_id"]: r.get("reason", "revoked") for r in doc.get("revoked", [])}
        self._granted = {k: set(v) for k, v in (doc.get("granted") or {}).items()}
        self.fetched_at = fetched_at

    def _load_cache(self) -> None:
        if self.cache_file is None or not self.cache_file.exists():
            return
        try:
            cached = loads_limited(self.cache_file.read_text(), field=str(self.cache_file))
            if cached.get("deployment_id") == self.deployment_id:
                self._install(cached["list"], float(cached["fetched_at"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, AsterError):
            pass  # a broken cache is no cache

    def _save_cache(self, doc: dict[str, Any]) -> None:
        if self.cache_file is None:
            return
        from aster_core.files import atomic_write

        atomic_write(self.cache_file, json.dumps({"deployment_id": self.deployment_id, "fetched_at": self.fetched_at,
                                                  "list": doc}), mode=0o600)

    async def _fetch(self) -> dict[str, Any]:
        from aster import AsterClient, AsterConfig, AsterTicket, NodeAddr

        config = AsterConfig.from_env()
        if self.identity:
            seed, _ = config.load_identity_from_path(self.identity)
        else:
            seed, _ = config.load_identity(role="producer")
        # the producer's node key and no credential (the producer's own is no consumer credential)
        config.identity_file = os.path.join(os.sep, "nonexistent", "aster-gate", ".aster-identity")
        config.secret_key = seed or config.secret_key
        config.enrollment_credential_file = None
        ticket = AsterTicket.from_string(self.authority)
        addr = NodeAddr(endpoint_id=ticket.endpoint_id, relay_url=None, direct_addresses=list(ticket.direct_addrs))
        client = AsterClient(config=config, address=addr)
        try:
            await asyncio.wait_for(client.connect(), FETCH_TIMEOUT)
            reply = await asyncio.wait_for(client.proxy("AuthorityNode").revocations(
                {"kind": "service", "deployment_id": self.deployment_id}), FETCH_TIMEOUT)
            return loads_limited(reply["json"], field="the authority's revocation list")
        finally:
            try:
                await asyncio.wait_for(client.close(), 2)
            except Exception:  # noqa: BLE001
                pass

    async def refresh_now(self) -> bool:
        """Fetch the list now; True when it arrived (the old one is kept otherwise)."""
        async with self._lock:
            return await self._refresh_locked()

    async def _refresh_locked(self) -> bool:
        self._last_attempt = self.clock()
        try:
            doc = await self._fetch()
        except Exception as exc:  # noqa: BLE001 - the authority may be down: that is what grace is for
            self.last_error = f"{type(exc).__name__}: {exc}"
            return False
        self._install(doc, self.clock())
        self.last_error = None
        try:
            self._save_cache(doc)
        except Exception:  # noqa: BLE001
            pass
        return True

    def _age(self) -> float | None:
        return None if self.fetched_at is None else self.clock() - self.fetched_at

    async def _ensure(self) -> None:
        """Refresh when the list is older than ``refresh`` (the call waits for it, so a revocation
        takes effect within ``refresh`` seconds); after a failed fetch, the cached list is used
        without retrying until ``refresh`` seconds passed again."""
        age = self._age()
        if age is not None and age < self.refresh:
            return
        if age is not None and self._last_attempt is not None and self.clock() - self._last_attempt < self.refresh:
            return
        async with self._lock:
            age = self._age()
            if age is not None and age < self.refresh:
                return  # another call refreshed it while we waited
            await self._refresh_locked()

    # -- the check -----------------------------------------------------------------------
    async def on_request(self, ctx: CallContext, request: object) -> object:
        await self._ensure()
        age = self._age()
        if age is None or age >= self.grace:
            raise RpcError(StatusCode.UNAVAILABLE, "the revocation list of the deployment authority is unavailable "
                           f"or older than {self.grace:g}s ({self.last_error or 'never fetched'}); refusing calls")
        peer = (ctx.peer or "").lower()
        if peer in self._revoked:
            raise RpcError(StatusCode.PERMISSION_DENIED,
                           f"endpoint {peer[:16]}... is revoked by the deployment authority ({self._revoked[peer]})")
        granted = self._granted.get(peer)
        roles = {r.strip() for r in (ctx.attributes or {}).get("aster.role", "").split(",") if r.strip()}
        if granted is not None and self.strict_roles and not roles <= granted:
            raise RpcError(StatusCode.PERMISSION_DENIED,
                           f"endpoint {peer[:16]}... presents roles the authority no longer grants it "
                           f"({', '.join(sorted(roles - granted))})")
        if granted is None and self.refuse_unknown:
            raise RpcError(StatusCode.PERMISSION_DENIED,
                           f"endpoint {peer[:16]}... holds no grant of deployment {self.deployment_id}")
        return request
