"""Method schemas on demand: the manifest cache first, then the peer's registry document.

A producer publishes each service's manifest under ``manifests/<contract id>``
in a read-only iroh-docs document whose namespace comes with admission (see
``docs/file-formats.md``, "Contract manifests"). :func:`load_manifests` reads the manifests of the
services asked for, and only those:

1. from the :mod:`aster_connect.cache` (a contract id names its manifest for
   ever), so a warm call never joins the document at all;
2. the rest from the document, all at once (every missing key queried
   concurrently in each round), through one :class:`RegistryReader` per connection.

Waiting for the document (the budget). Right after joining, the document is
still syncing. Reads go in rounds until each entry is there and its content is
local; a round starts on the next document event (``insert_remote``,
``content_ready``, ``sync_finished``) or after a back-off pause growing from
10 ms to 250 ms. A query that does not answer is abandoned after 0.5 s and
retried with twice the allowance (up to 4 s). Once ``sync_finished`` has arrived, a key still absent
on two reads in a row has not been published: the read stops there, well
before the budget. An entry whose content is still not local after
:data:`DIRECT_AFTER` rounds is fetched by its hash from the producer's blob
store (the document's own download sometimes never finishes under load).
The whole read is bounded by :data:`SCHEMA_TIMEOUT`
(default 10 s, ``ASTER_MANIFEST_TIMEOUT`` overrides it), which callers may
lower. What could not be read is reported per service in
``Connection.schema_missing``, never swallowed.

Why the reader drains events: the subscription's events must be consumed. An
undrained receiver fills up once a few hundred entries have arrived (100
services publish 300 keys) and the runtime's document actor then blocks, so
``query_key_exact`` never returns (measured: 7 of 8 fresh connections to a
100-service server stalled without draining, 0 of 8 with it).
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    from .cache import ManifestCache
    from .schema import ServiceInfo

__all__ = ["SCHEMA_TIMEOUT", "RegistryReader", "load_manifests", "schema_timeout"]

FIRST_ATTEMPT = 0.5
MAX_ATTEMPT = 4.0
FIRST_PAUSE = 0.01
MAX_PAUSE = 0.25
#: reads of a key that is absent after the document synced, before it counts as unpublished
ABSENT_AFTER_SYNC = 2
#: rounds an entry's content may stay missing before it is fetched by hash from the producer
DIRECT_AFTER = 4


def schema_timeout() -> float:
    """The documented limit on reading schemas: ``ASTER_MANIFEST_TIMEOUT`` seconds, default 10."""
    text = os.environ.get("ASTER_MANIFEST_TIMEOUT", "").strip()
    try:
        value = float(text) if text else 10.0
    except ValueError:
        value = 10.0
    return value if value > 0 else 10.0


SCHEMA_TIMEOUT = schema_timeout()

NOT_PUBLISHED = "its manifest is not in the peer's registry document (not published, or published late)"
NO_REGISTRY = "the peer publishes no registry document, so no manifests"


class RegistryReader:
    """One joined, subscribed copy of a peer's registry document; its events are drained."""

    def __init__(self, node: Any, namespace: str, peer_id: str) -> None:
        self._node = node
        self.namespace = namespace
        self.peer_id = peer_id
        self.synced = asyncio.Event()
        self._tick = asyncio.Event()
        self._doc: Any = None
        self._opening: asyncio.Future | None = None
        self._drain: asyncio.Task | None = None
        #: manifests read from the peer (not the cache), and queries abandoned as stalled
        self.reads = 0
        self.stalls = 0
        #: contents fetched by hash because the document's own download did not finish
        self.direct = 0
        self._waits: dict[str, int] = {}

    async def doc(self) -> Any:
        if self._doc is not None:
            return self._doc
        if self._opening is None:
            self._opening = asyncio.ensure_future(self._open())
        return await asyncio.shield(self._opening)

    async def _open(self) -> Any:
        from aster import docs_client

        doc, events = await docs_client(self._node).join_and_subscribe_namespace(self.namespace, self.peer_id)
        self._drain = asyncio.ensure_future(self._drain_events(events))
        self._doc = doc
        return doc

    async def _drain_events(self, events: Any) -> None:
        try:
            while True:
                event = await events.recv()
                if event is None:
                    return
                if getattr(event, "kind", "") == "sync_finished":
                    self.synced.set()
                self._wake()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the subscription ended; reads keep polling
            return
        finally:
            self._wake()

    def _wake(self) -> None:
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    async def _changed(self, tick: asyncio.Event, pause: float) -> None:
        """Until the next document event after ``tick`` was taken, or ``pause`` seconds."""
        try:
            await asyncio.wait_for(tick.wait(), pause)
        except asyncio.TimeoutError:
            pass

    async def read_many(self, contract_ids: Iterable[str], deadline: float, *, until_published: bool = False,
                        max_pause: float = MAX_PAUSE) -> dict[str, tuple[bytes | None, str]]:
        """``{contract id: (raw manifest, "") or (None, why not)}`` by the loop time ``deadline``.

        Works in rounds: each round queries every manifest still missing at
        once (the runtime's prefix query returns only a few entries, so each
        key is asked for exactly), then waits for the next document event or
        the back-off pause. ``until_published`` keeps waiting for keys absent
        after the sync (a manifest published late) instead of giving up.
        """
        loop = asyncio.get_running_loop()
        out: dict[str, tuple[bytes | None, str]] = {}
        absent: dict[str, int] = dict.fromkeys(contract_ids, 0)
        try:
            doc = await asyncio.wait_for(self.doc(), max(deadline - loop.time(), 0.001))
        except asyncio.TimeoutError:
            return {cid: (None, "the peer's registry document could not be joined in time") for cid in absent}
        except Exception as exc:  # noqa: BLE001 - native errors have their own types
            return {cid: (None, f"the peer's registry document could not be joined ({exc})") for cid in absent}
        attempt, pause = FIRST_ATTEMPT, FIRST_PAUSE
        while absent:
            left = deadline - loop.time()
            if left <= 0:
                out.update((cid, (None, self._late_reason())) for cid in absent)
                break
            tick = self._tick
            pending = list(absent)
            states = await asyncio.gather(*(self._try(doc, cid, min(attempt, left)) for cid in pending))
            stalled = False
            for cid, (state, raw) in zip(pending, states):
                if state == "ok":
                    out[cid] = (raw, "")
                    del absent[cid]
                elif state == "stalled":
                    stalled = True
                elif state == "absent" and self.synced.is_set() and not until_published:
                    absent[cid] += 1
                    if absent[cid] >= ABSENT_AFTER_SYNC:
                        out[cid] = (None, NOT_PUBLISHED)
                        del absent[cid]
            if stalled:
                attempt = min(attempt * 2, MAX_ATTEMPT)
            elif absent:
                await self._changed(tick, min(pause, max(deadline - loop.time(), 0)))
                pause = min(pause * 2, max_pause)
        return out

    async def _try(self, doc: Any, contract_id: str, allowance: float) -> tuple[str, bytes | None]:
        """One look: ``ok`` (with the bytes), ``absent``, ``pending`` (content not local) or ``stalled``."""
        try:
            entries = await asyncio.wait_for(doc.query_key_exact(f"manifests/{contract_id}".encode()), allowance)
        except asyncio.TimeoutError:
            self.stalls += 1
            return "stalled", None
        except Exception:  # noqa: BLE001 - e.g. IrohError while the replica is busy
            return "pending", None
        if not entries:
            return "absent", None
        newest = max(entries, key=lambda e: getattr(e, "timestamp", 0))
        try:
            raw = await asyncio.wait_for(doc.read_entry_content(newest.content_hash), allowance)
        except asyncio.TimeoutError:
            self.stalls += 1
            return "stalled", None
        except Exception:  # noqa: BLE001 - content not downloaded yet ("encode error")
            waits = self._waits[contract_id] = self._waits.get(contract_id, 0) + 1
            if waits < DIRECT_AFTER:
                return "pending", None
            raw = await self._download(newest.content_hash, allowance)
            if raw is None:
                return "pending", None
        self.reads += 1
        return "ok", bytes(raw)

    async def _download(self, content_hash: str, allowance: float) -> bytes | None:
        """Fetch an entry's content straight from the producer's blob store.

        Under load the document's own content download sometimes never
        completes (the entry is there, ``read_entry_content`` keeps failing and
        no ``content_ready`` comes): measured once in 5 cold reads of 100
        manifests on a busy machine. The content is a blob the producer
        serves, so ask for it by hash.
        """
        from aster import blobs_client

        try:
            raw = await asyncio.wait_for(blobs_client(self._node).download_hash(content_hash, self.peer_id, "raw"),
                                         allowance)
        except Exception:  # noqa: BLE001 - timeout or native error: try again next round
            return None
        if raw:
            self.direct += 1
            return bytes(raw)
        return None

    def _late_reason(self) -> str:
        state = "synced" if self.synced.is_set() else "had not finished syncing"
        return f"its manifest could not be read within the time allowed (the registry document {state})"

    async def close(self) -> None:
        if self._opening is not None and not self._opening.done():
            self._opening.cancel()
        if self._drain is not None and not self._drain.done():
            self._drain.cancel()
            try:
                await self._drain
            except BaseException:  # noqa: BLE001 - cancelled on purpose
                pass
        doc, self._doc = self._doc, None
        if doc is not None:
            try:
                await asyncio.wait_for(doc.leave(), 0.25)
            except BaseException:  # noqa: BLE001 - closing anyway
                pass


async def load_manifests(conn: Any, services: Iterable["ServiceInfo"], timeout: float | None = None, *,
                         until_published: bool = False, cache: "ManifestCache | None" = None,
                         max_pause: float = MAX_PAUSE) -> list["ServiceInfo"]:
    """Give ``services`` their schemas (cache first, then the peer, concurrently).

    Returns the services still without one; ``conn.schema_missing`` says why for
    each (keyed by ``ServiceInfo.ref``). Never raises for a manifest that
    cannot be read: calls work without schemas, and the caller says so.
    """
    from .cache import default_cache

    cache = default_cache() if cache is None else cache
    budget = SCHEMA_TIMEOUT if timeout is None else timeout
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget
    wanted = [s for s in services if not s.has_schema]
    missing_reasons: dict[str, str] = conn.schema_missing
    pending: list[ServiceInfo] = []
    for svc in wanted:
        cached = cache.get(svc.contract_id) if svc.contract_id else None
        if cached is not None:
            svc.apply_manifest(cached)
            missing_reasons.pop(svc.ref or svc.name, None)
            conn.manifest_stats["cache_hits"] += 1
        else:
            pending.append(svc)
    if not pending:
        return []
    namespace = getattr(conn._client, "registry_namespace", "")
    if not namespace:
        for svc in pending:
            missing_reasons[svc.ref or svc.name] = NO_REGISTRY
        return pending
    reader = conn.registry_reader(namespace)
    by_id: dict[str, list[ServiceInfo]] = {}
    for svc in pending:
        if svc.contract_id:
            by_id.setdefault(svc.contract_id, []).append(svc)
        else:
            missing_reasons[svc.ref or svc.name] = "the peer announced it without a contract id"
    found = await reader.read_many(by_id, deadline, until_published=until_published, max_pause=max_pause)
    results = [found[cid] for cid in by_id]
    import json

    left: list[ServiceInfo] = [s for s in pending if not s.contract_id]
    to_store: list[tuple[str, bytes]] = []
    for (cid, group), (raw, reason) in zip(by_id.items(), results):
        manifest = None
        if raw is not None:
            try:
                data = json.loads(raw.decode("utf-8"))
                manifest = data[0] if isinstance(data, list) and data else data
            except (ValueError, UnicodeDecodeError):
                reason = "its published manifest is not valid JSON"
            if manifest is not None and not isinstance(manifest, dict):
                manifest, reason = None, "its published manifest is not a JSON object"
        for svc in group:
            if manifest is None:
                missing_reasons[svc.ref or svc.name] = reason
                left.append(svc)
                continue
            svc.apply_manifest(manifest)
            missing_reasons.pop(svc.ref or svc.name, None)
            conn.manifest_stats["peer_reads"] += 1
        if manifest is not None and raw is not None:
            to_store.append((cid, raw))
    if to_store and cache.enabled:
        # Off the critical path: each write is fsynced. The default executor's
        # thread finishes its work before the interpreter exits (asyncio.run waits
        # for it), and an interrupted write never leaves half a file.
        loop.run_in_executor(None, _store, cache, to_store)
    return left


def _store(cache: "ManifestCache", items: list[tuple[str, bytes]]) -> None:
    for cid, raw in items:
        cache.put(cid, raw)


def missing_reason(conn: Any, svc: "ServiceInfo") -> str:
    """Why ``svc`` has no schema on ``conn`` (as :func:`load_manifests` recorded it)."""
    return conn.schema_missing.get(svc.ref or svc.name) or "its manifest was not read"


def fallback_note(conn: Any, svc: "ServiceInfo") -> str:
    """The one warning ``aster call`` prints when it calls without a schema."""
    return (f"no method schema for {svc.ref or svc.name}: {missing_reason(conn, svc)}. Sent the request "
            "unchecked in the runtime's JSON mode; the answer is printed as it arrives.")
