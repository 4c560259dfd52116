"""The Aster side of the bridge: one connection to the peer, and one Aster session
per MCP session for session-scoped services.

The connection is opened once, in the background, while the MCP SDK is still
being imported and then while the server answers ``initialize``;
``tools/list`` and ``tools/call`` wait for it. When the peer goes away, calls
fail with UNAVAILABLE (as tool errors) and the next call dials again, so an
agent sees errors rather than a dead MCP server and recovers by itself when
the peer comes back.

Manifests: only those of services the ``--allow``/``--deny`` globs can offer
are read (cache first, see :mod:`aster_connect.registry`). Those that cannot be
read in the budget leave their service out of the first catalogue; the link
keeps reading them in the background (waiting for late publications too) and,
each time the catalogue grows, calls the :meth:`PeerLink.on_change` listeners,
which send ``notifications/tools/list_changed``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Hashable

from .catalog import Catalog, Filters, build_catalog

log = logging.getLogger("aster_mcp")

CONNECT_TIMEOUT = 10.0
#: seconds of each background round reading manifests that were missing
CATCH_UP_ROUND = 30.0


class PeerLink:
    """The (re)connectable link to one Aster peer and the catalog of its tools."""

    def __init__(self, address: str, *, rcan: str | None = None, filters: Filters = Filters(),
                 connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self.address = address
        self.rcan = rcan
        self.filters = filters
        self.connect_timeout = connect_timeout
        self._conn: Any = None
        self._catalog: Catalog | None = None
        self._dialing: asyncio.Task | None = None
        self._catching_up: asyncio.Task | None = None
        self._listeners: list[Callable[[], Awaitable[None]]] = []
        self._lock = asyncio.Lock()

    def on_change(self, listener: Callable[[], Awaitable[None]]) -> None:
        """Call ``listener`` (a coroutine function) whenever the catalogue grows."""
        self._listeners.append(listener)

    def start(self) -> None:
        """Begin dialing now (in the background) so the first request finds it ready."""
        if self._conn is None and self._dialing is None:
            self._dialing = asyncio.ensure_future(self._dial())
            self._dialing.add_done_callback(_log_failure)

    async def _dial(self) -> Any:
        from aster_connect.client import connect

        conn = await connect(self.address, rcan=self.rcan, timeout=self.connect_timeout, schemas=False)
        await conn.load_schemas(self._offered(conn))
        catalog = build_catalog(conn.services, self.filters, conn.schema_missing)
        if self._catalog is None or len(catalog.tools) >= len(self._catalog.tools):
            self._catalog = catalog
        self._conn = conn
        log.info("connected to %s: %d tools", self.address[:24], len(self._catalog.tools))
        for ref, why in catalog.unread.items():
            log.warning("no tools for %s yet: %s; still reading it in the background", ref, why)
        if catalog.unread and (self._catching_up is None or self._catching_up.done()):
            self._catching_up = asyncio.ensure_future(self._catch_up(conn))
        return conn

    def _offered(self, conn: Any) -> list[str]:
        """Names of the services whose tools the filters can offer (only their manifests are read)."""
        return sorted({s.name for s in conn.services if self.filters.may_offer(s.name)})

    async def _catch_up(self, conn: Any) -> None:
        """Keep reading the manifests still missing; grow the catalogue as they arrive."""
        from aster_connect.registry import load_manifests

        try:
            while conn is self._conn:
                names = set(self._offered(conn))
                missing = [s for s in conn.services if s.name in names and not s.has_schema]
                if not missing:
                    return
                left = await load_manifests(conn, missing, CATCH_UP_ROUND, until_published=True, max_pause=2.0)
                if len(left) < len(missing) and conn is self._conn:
                    self._catalog = build_catalog(conn.services, self.filters, conn.schema_missing)
                    log.info("read %d more manifest(s): %d tools", len(missing) - len(left),
                             len(self._catalog.tools))
                    for listener in list(self._listeners):
                        try:
                            await listener()
                        except Exception as exc:  # noqa: BLE001 - a gone client must not stop the others
                            log.info("could not announce the new tools: %s", exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - background work: log, never crash the server
            log.warning("stopped reading missing manifests: %s", exc)

    async def connection(self) -> Any:
        """The live connection, dialing (again) when there is none."""
        if self._conn is not None:
            return self._conn
        async with self._lock:
            if self._conn is not None:
                return self._conn
            task = self._dialing
            if task is None or task.done():
                task = self._dialing = asyncio.ensure_future(self._dial())
                task.add_done_callback(_log_failure)
            return await asyncio.shield(task)

    async def catalog(self) -> Catalog:
        """The tools on offer (the first successful connection's view of the peer)."""
        if self._catalog is None:
            await self.connection()
        assert self._catalog is not None
        return self._catalog

    async def broken(self, conn: Any) -> None:
        """Forget ``conn`` after it failed to reach the peer; the next call dials again."""
        if conn is not None and conn is self._conn:
            self._conn = None
            await _close_quietly(conn)

    async def close(self) -> None:
        for task in (self._dialing, self._catching_up):
            if task is not None and not task.done():
                task.cancel()
        if self._conn is not None:
            await _close_quietly(self._conn)
            self._conn = None


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        exc = task.exception()
        log.error("cannot connect to the Aster peer: %s%s", getattr(exc, "message", exc),
                  f" ({exc.hint})" if getattr(exc, "hint", None) else "")


async def _close_quietly(obj: Any) -> None:
    try:
        await asyncio.wait_for(obj.close(), 5)
    except Exception:  # noqa: BLE001 - closing something that already failed
        pass


@dataclass
class _Held:
    session: Any
    conn: Any
    used: float


class SessionPool:
    """One Aster session per (MCP session, service), closed when idle or at exit."""

    def __init__(self, *, idle_timeout: float | None = None) -> None:
        self.idle_timeout = idle_timeout
        self._held: dict[tuple[Hashable, str], _Held] = {}
        self._locks: dict[tuple[Hashable, str], asyncio.Lock] = {}

    async def get(self, key: Hashable, service: str, conn: Any) -> Any:
        """The session for ``key`` with ``service`` (``Name@N``: one exact version), opening one when needed."""
        slot = (key, service)
        lock = self._locks.setdefault(slot, asyncio.Lock())
        async with lock:
            held = self._held.get(slot)
            if held is not None and (held.session.ended or held.conn is not conn):
                log.info("the Aster session with %s ended; opening a new one", service)
                await _close_quietly(held.session)
                held = None
            if held is None:
                held = _Held(await conn.session(service), conn, time.monotonic())
                self._held[slot] = held
            held.used = time.monotonic()
            await self._reap()
            return held.session

    async def _reap(self) -> None:
        if not self.idle_timeout:
            return
        cutoff = time.monotonic() - self.idle_timeout
        for slot, held in list(self._held.items()):
            if held.used < cutoff:
                del self._held[slot]
                await _close_quietly(held.session)

    async def close(self) -> None:
        held, self._held = list(self._held.values()), {}
        for item in held:
            await _close_quietly(item.session)
