"""An admitted connection to a peer and the calls made on it (see :mod:`aster_connect.client`).

:class:`Connection` (made by :func:`aster_connect.dial.connect`) knows what the peer
offers and calls it in every pattern, scope and version; :class:`Session` holds one
session with a session-scoped service. Requests are checked against the method's
schema, when one is known, before they are sent.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterable, AsyncIterator, Iterable

from aster_core.errors import UsageError

from .addresses import Address, node_addr
from .errors import CallError, CallNotFound, CallUnavailable, call_error
from .lifecycle import close_client_before_exit, quiet_close
from .schema import MethodInfo, ServiceInfo, check_request
from .trace import CallTrace
from .wire import SessionStream, async_items, shared_call

__all__ = ["Connection", "Session"]


class Session:
    """A session with a session-scoped service (see :meth:`Connection.session`)."""

    def __init__(self, connection: "Connection", service: ServiceInfo, stream: SessionStream):
        self.connection = connection
        self.service = service
        self._stream = stream

    @property
    def ended(self) -> bool:
        return self._stream.ended

    def invoke(self, method: str, request: Any = None, *, items: Iterable | AsyncIterable | None = None,
               timeout: float | None = None, metadata: dict[str, str] | None = None,
               trace: CallTrace | None = None) -> AsyncIterator[Any]:
        """Yield the responses of one call in this session (any pattern); ``metadata`` goes with the call."""
        info = self._method(method)
        return _with_timeout(self._run(info, _requests(info, request, items), timeout, metadata, trace), timeout)

    def _method(self, method: str) -> MethodInfo:
        info = self.service.method(method)
        if info is None:
            from .registry import missing_reason

            why = missing_reason(self.connection, self.service)
            raise CallError("FAILED_PRECONDITION",
                            f"the schema of {self.service.name} is unknown ({why}), so its session calls cannot be framed",
                            "Retry once the peer has published its manifest (ASTER_MANIFEST_TIMEOUT allows more "
                            "time), or call it from Python with the typed client.")
        return info

    def _run(self, info: MethodInfo, requests: Any, timeout: float | None, metadata: dict[str, str] | None = None,
             trace: CallTrace | None = None) -> AsyncIterator[Any]:
        return self._stream.call(info.name, info.pattern, requests, timeout=timeout, metadata=metadata, trace=trace)

    async def call(self, method: str, request: Any = None, *, items: Iterable | AsyncIterable | None = None,
                   timeout: float | None = None, metadata: dict[str, str] | None = None) -> Any:
        """One call; the single response (a list of them for server and bidi streams)."""
        return _collect(self.service.method(method), [r async for r in self.invoke(
            method, request, items=items, timeout=timeout, metadata=metadata)])

    async def close(self) -> None:
        await self._stream.close()


class Connection:
    """An admitted connection to one peer. Create it with :func:`connect`."""

    def __init__(self, address: Address, client: Any, services: list[ServiceInfo], credential: str | None):
        self.address = address
        self._client = client
        self.services = services
        #: what was presented on admission (a path, an identity peer, or None)
        self.credential = credential

    # -- what the peer offers -------------------------------------------------------
    @property
    def open_gate(self) -> bool:
        """True when the peer admitted us without a credential (it admits everyone)."""
        return bool(getattr(self._client, "open_gate", False))

    @property
    def presented(self) -> dict[str, Any] | None:
        """The credential presented on admission as :func:`aster_connect.credentials.summary` data plus
        ``source`` (where it came from), or ``None`` when none was."""
        from .credentials import presented_entry, summary

        entry = getattr(self._client, "_inline_credential", None)  # an identity file's peer entry
        path = getattr(self._client, "_enrollment_credential_file", None)
        if not entry and path:
            entry = presented_entry(path)
        if not entry:
            return None
        return {"source": self.credential or str(path or "?"), **summary(entry)}

    @property
    def endpoint_id(self) -> str:
        """Our own endpoint id on this connection."""
        try:
            return self._client._node.node_addr_info().endpoint_id  # runtime exposes no accessor
        except Exception:
            return ""

    def service(self, name: str) -> ServiceInfo:
        """The service called ``name``; ``Name@N`` picks version N, plain ``Name`` the highest."""
        base, _, version = name.partition("@")
        matches = [s for s in self.services if s.name == base]
        if version:
            matches = [s for s in matches if str(s.version) == version.lstrip("v")]
        if matches:
            return max(matches, key=lambda s: s.version)
        import difflib

        names = [s.ref for s in self.services]
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"Did you mean {close[0]}? " if close else ""
        raise CallNotFound("NOT_FOUND", f"the peer offers no service {name!r}",
                           f"{hint}Services: {', '.join(names) or '(none)'}.")

    @property
    def schema_missing(self) -> dict[str, str]:
        """Why a service has no method schema, by ``ServiceInfo.ref`` (filled by :meth:`load_schemas`)."""
        return self.__dict__.setdefault("_schema_missing", {})

    @property
    def manifest_stats(self) -> dict[str, int]:
        """Manifests taken from the local cache (``cache_hits``) and read from the peer (``peer_reads``)."""
        return self.__dict__.setdefault("_manifest_stats", {"cache_hits": 0, "peer_reads": 0})

    def registry_reader(self, namespace: str) -> Any:
        """The peer's registry document, joined once per connection (:mod:`aster_connect.registry`)."""
        reader = self.__dict__.get("_registry")
        if reader is None:
            from .registry import RegistryReader

            node = self._client._node  # the runtime gives no public handle to its docs engine
            reader = RegistryReader(node, namespace, node_addr(self.address).endpoint_id)
            self.__dict__["_registry"] = reader
        return reader

    async def load_schemas(self, names: Iterable[str] | None = None, *, timeout: float | None = None,
                           until_published: bool = False) -> list[ServiceInfo]:
        """Read the method schemas of the named services (all by default): cache first, then the peer.

        Manifests missing from the cache (``<home>/cache/manifests``) are read
        from the peer's registry document concurrently, waiting for it to sync,
        within ``timeout`` seconds (default :data:`aster_connect.registry.SCHEMA_TIMEOUT`; see
        :mod:`aster_connect.registry` for the retries). Returns the services
        still without a schema; :attr:`schema_missing` says why for each.
        ``until_published`` keeps waiting for manifests the peer has not
        published yet. Nothing is raised: calls work without schemas.
        """
        from .registry import load_manifests

        bases = None if names is None else {n.partition("@")[0] for n in names}
        wanted = [s for s in self.services if (bases is None or s.name in bases) and not s.has_schema]
        if not wanted:
            return []
        return await load_manifests(self, wanted, timeout, until_published=until_published)

    # -- calling --------------------------------------------------------------------
    async def _rpc_connection(self, svc: ServiceInfo) -> Any:
        channels = getattr(svc.summary, "channels", None) or {}
        target = channels.get("rpc") or next(iter(channels.values()), None) or self.address.value
        # The runtime caches a channel's connection once dialled, but calls that start together
        # before that each dial one of their own and all but the last are dropped unclosed (seen:
        # 6 connections for a batch's first 8 calls): one dial at a time per channel.
        lock = self.__dict__.setdefault("_rpc_dialling", {}).setdefault(target, asyncio.Lock())
        try:
            async with lock:
                return await self._client._rpc_conn_for(target)  # cached per channel by the runtime
        except Exception as exc:
            raise CallUnavailable("UNAVAILABLE", f"cannot open the RPC channel of {svc.name}: {exc}",
                                  "The peer admitted us but its RPC endpoint did not answer.") from exc

    def invoke(self, service: str, method: str, request: Any = None, *,
               items: Iterable | AsyncIterable | None = None, timeout: float | None = None,
               metadata: dict[str, str] | None = None, trace: CallTrace | None = None) -> AsyncIterator[Any]:
        """Yield the responses of one call as they arrive (any pattern, any scope, any version).

        ``request`` is the JSON object of unary and server-stream calls;
        ``items`` the requests of client- and bidi-stream calls. A session-scoped
        service is called through a one-call session. ``metadata`` (text keys and
        values, see :mod:`aster_connect.metadata`) goes in the call's header; ``trace``
        records timings and the trailer (:class:`aster_connect.trace.CallTrace`).
        """
        svc = self.service(service)
        info = svc.method(method)
        return _with_timeout(self._invoke(svc, method, info, _requests(info, request, items), timeout,
                                          metadata, trace), timeout)

    async def _invoke(self, svc: ServiceInfo, method: str, info: MethodInfo | None, requests: Any,
                      timeout: float | None, metadata: dict[str, str] | None = None,
                      trace: CallTrace | None = None) -> AsyncIterator[Any]:
        if svc.is_session:
            session = await self.session(svc.name)
            try:
                async for item in session._run(session._method(method), requests, timeout, metadata, trace):
                    yield item
            except CallError as exc:
                raise _explain(self, svc, method, exc) from None
            finally:
                await session.close()
            return
        conn = await self._rpc_connection(svc)
        try:
            async for item in shared_call(conn, svc.name, svc.version, method, requests, timeout=timeout,
                                          metadata=metadata, trace=trace):
                yield item
        except CallError as exc:
            raise _explain(self, svc, method, exc) from None

    async def call(self, service: str, method: str, request: Any = None, *,
                   items: Iterable | AsyncIterable | None = None, timeout: float | None = None,
                   metadata: dict[str, str] | None = None) -> Any:
        """One call; the single response (a list of them for server and bidi streams)."""
        info = self.service(service).method(method)
        return _collect(info, [r async for r in self.invoke(service, method, request, items=items,
                                                            timeout=timeout, metadata=metadata)])

    async def session(self, service: str) -> Session:
        """Open a session with a session-scoped service."""
        svc = self.service(service)
        if not svc.is_session:
            raise UsageError(f"{service} is a shared service, not session-scoped",
                             "Call its methods directly; sessions are for scoped=\"session\" services.")
        if svc.methods is None:
            await self.load_schemas([service])
        stream = SessionStream(await self._rpc_connection(svc), svc.name, svc.version)
        await stream.open()
        return Session(self, svc, stream)

    async def close(self) -> None:
        await quiet_close(self._client)

    async def close_before_exit(self) -> None:
        """Close the peer connections for a process that ends next: :func:`close_client_before_exit`."""
        await close_client_before_exit(self._client)

    async def __aenter__(self) -> "Connection":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


def _requests(info: MethodInfo | None, request: Any, items: Iterable | AsyncIterable | None) -> Any:
    """The request stream of a call, checked against the schema where it can be."""
    if items is not None:
        if info is not None and not info.streams_requests:
            raise UsageError(f"{info.name} is {info.pattern}: it takes one request, not a stream of items",
                             "Pass the request as a JSON object instead.")
        return _checked_items(info, items)
    if info is not None and info.streams_requests and request is None:
        return []
    return [check_request(info, {} if request is None else request)]


async def _checked_items(info: MethodInfo | None, items: Iterable | AsyncIterable) -> AsyncIterator[Any]:
    n = 0
    async for item in async_items(items):
        n += 1
        yield check_request(info, item, where=f"item {n}")


def _collect(info: MethodInfo | None, responses: list[Any]) -> Any:
    if info is not None and info.streams_responses:
        return responses
    if info is None and len(responses) != 1:
        return responses
    return responses[0] if responses else None


async def _with_timeout(source: AsyncIterator[Any], timeout: float | None) -> AsyncIterator[Any]:
    """Apply an overall deadline to a call's responses, and close their stream however the caller stops.

    Every call's responses pass through here; the deadline and the closing of the
    source (``aclose`` in ``finally``) are kept together in this one function.

    The source is stepped in the caller's own task, under ``asyncio.timeout_at``,
    never in a task of its own (``wait_for``): a caller cancelled again while
    that task winds down (anyio cancel scopes, and so the MCP SDK, cancel on every
    await) would leave it running, and ``aclose`` would then fail with
    "asynchronous generator is already running", a RuntimeError in place of the
    cancellation. In one task, cancelling the caller ends the call and nothing else.
    """
    loop = asyncio.get_running_loop()
    end = None if not timeout else loop.time() + timeout
    iterator = source.__aiter__()
    try:
        while True:
            try:
                async with asyncio.timeout_at(end):
                    item = await iterator.__anext__()
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise CallUnavailable("DEADLINE_EXCEEDED", f"no complete answer within {timeout:g}s",
                                      "Raise --timeout, or check that the method finishes.") from None
            yield item
    finally:
        await iterator.aclose()


def _explain(conn: Connection, svc: ServiceInfo, method: str, exc: CallError) -> CallError:
    """Add what exists (not found) or what was presented (denied) to a server's error."""
    if exc.status in ("NOT_FOUND", "UNIMPLEMENTED"):
        methods = sorted(svc.methods) if svc.methods is not None else None
        where = f"Methods of {svc.name}: {', '.join(methods)}." if methods else \
            f"Services: {', '.join(s.name for s in conn.services)}."
        return call_error(exc.status, exc.detail, where)
    if exc.status in ("PERMISSION_DENIED", "UNAUTHENTICATED"):
        return call_error(exc.status, exc.detail,
                          f"Credential presented: {conn.credential or 'none'}. Ask the operator for one "
                          f"whose aster.role grants {svc.name}.{method}, then pass it with --rcan.")
    return exc
