"""Connect to a live Aster peer, list what it offers and call it: no click, no printing.

API summary (everything is async; errors are :mod:`aster_connect.errors` classes,
which are also :mod:`aster_core.errors` classes with the right exit code)::

    from aster_connect.client import connect, resolve_address

    conn = await connect("aster1...", rcan="consumer.cred", timeout=10)
    #   address: aster1 ticket, base64 NodeAddr, 64-hex endpoint id or a peer
    #            name from ./.aster-identity (resolve_address() parses them).
    #   rcan:    credential JSON or .aster-identity file (its node key is used,
    #            so an endpoint-bound credential is admitted). None: the
    #            runtime's defaults (ASTER_ENROLLMENT_CREDENTIAL, ./.aster-identity).
    #   schemas: method schemas are read from the published manifests
    #            (schemas=False skips that; conn.load_schemas() later).
    async with conn:
        conn.services                 # [ServiceInfo(name, version, scoped, contract_id, methods)]
        svc = conn.service("Echo")    # CallNotFound lists the services that exist
        m = svc.method("say")         # MethodInfo(name, pattern, fields, response_fields) or None
                                      #   when the schema is unknown; CallNotFound lists methods.
                                      #   FieldInfo: kind, nullable, item_kind/item_ref/item_nullable,
                                      #   key_kind, value_kind/value_ref/value_nullable, type_label
        svc.manifest                  # the published manifest dict as read, or None when unknown:
                                      #   its methods[] keep the runtime's full descriptors
                                      #   (idempotent, default_kind, ...)
        await conn.call("Echo", "say", {"text": "hi"})          # one response
        async for r in conn.invoke("Echo", "count", {"n": 3}):   # server stream
            ...
        await conn.call("Echo", "join", items=[{...}, {...}])    # client stream (any iterable,
                                                                 #   sync or async)
        async for r in conn.invoke("Echo", "chat", items=gen()): # bidi
            ...
        sess = await conn.session("Counter")   # session-scoped: state lives until close()
        await sess.call("add", {"n": 1}); await sess.close()
        # conn.call/invoke on a session-scoped service use a one-call session.

Run the event loop with :func:`run` (``run(main())``), not ``asyncio.run``: the
runtime must be imported before the loop exists or it may crash at exit. A
command that ends right after its work may end with ``await
conn.close_before_exit()`` inside the loop and :func:`exit_now` after it
(no draining wait, no interpreter teardown; the peer still sees a normal close).

Every version of a service is reachable (calls carry the announced version;
see :mod:`aster_connect.wire`). Requests are checked against the schema first
(:func:`aster_connect.schema.check_request`) when one is known.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import sys
from pathlib import Path
from typing import Any, AsyncIterable, AsyncIterator, Awaitable, Iterable, NoReturn, TypeVar

from aster_core.errors import UsageError

from .addresses import Address, resolve_address
from .credentials import check_files, credential_kind
from .errors import CallDenied, CallError, CallNotFound, CallUnavailable, call_error
from .schema import MethodInfo, ServiceInfo, check_request
from .wire import SessionStream, shared_call

__all__ = ["Connection", "Session", "connect", "run", "exit_now", "close_client_before_exit", "resolve_address",
           "Address", "ServiceInfo", "MethodInfo", "CallError"]

T = TypeVar("T")
DEFAULT_TIMEOUT = 10.0
from .registry import SCHEMA_TIMEOUT  # noqa: E402  (seconds for reading schemas; ASTER_MANIFEST_TIMEOUT)
#: seconds closing a connection may take (see :func:`_quiet_close`)
CLOSE_TIMEOUT = 0.25
#: more admission attempts after a connection lost mid-admission, and the pause before the
#: first (the n-th waits n times as long): see :func:`_admitted_client`
ADMISSION_RETRIES = 2
ADMISSION_RETRY_PAUSE = 0.2
#: seconds left to the runtime's I/O thread to send the close frames (:meth:`Connection.close_before_exit`)
SEND_CLOSE_S = 0.005


def run(coro: Awaitable[T]) -> T:
    """``asyncio.run`` for code that talks to peers: import the runtime first.

    Importing ``aster`` installs uvloop's event loop policy. With the standard
    asyncio loop the released runtime crashes (SIGSEGV/SIGABRT) at interpreter
    exit in about half of the runs (measured: 14 of 30 with ``ASTER_NO_UVLOOP=1``,
    0 of 30 with uvloop), so every command runs its loop through here.
    """
    import aster  # noqa: F401  (side effect: the runtime's loop policy)

    return asyncio.run(coro)  # type: ignore[arg-type]


def _node_addr(address: Address) -> Any:
    """The runtime's ``NodeAddr`` for an address (UsageError when it does not parse)."""
    from aster import AsterTicket, NodeAddr

    value = address.value
    try:
        if value.startswith("aster1"):
            ticket = AsterTicket.from_string(value)
            return NodeAddr(endpoint_id=ticket.endpoint_id, relay_url=None,
                            direct_addresses=list(ticket.direct_addrs))
        if len(value) == 64 and all(c in "0123456789abcdefABCDEF" for c in value):
            return NodeAddr(endpoint_id=value.lower())
        raw = base64.b64decode(value + "=" * (-len(value) % 4))
        return NodeAddr.from_bytes(raw)
    except (binascii.Error, ValueError, TypeError, Exception) as exc:  # the native parsers raise their own types
        raise UsageError(f"not a valid address: {address.text[:60]!r} ({exc})",
                         "Copy the aster1... ticket the server printed at start-up.") from exc


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
               timeout: float | None = None) -> AsyncIterator[Any]:
        """Yield the responses of one call in this session (any pattern)."""
        info = self._method(method)
        return _with_timeout(self._run(info, _requests(info, request, items), timeout), timeout)

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

    def _run(self, info: MethodInfo, requests: Any, timeout: float | None) -> AsyncIterator[Any]:
        return self._stream.call(info.name, info.pattern, requests, timeout=timeout)

    async def call(self, method: str, request: Any = None, *, items: Iterable | AsyncIterable | None = None,
                   timeout: float | None = None) -> Any:
        """One call; the single response (a list of them for server and bidi streams)."""
        return _collect(self.service.method(method), [r async for r in self.invoke(method, request, items=items,
                                                                                      timeout=timeout)])

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
            reader = RegistryReader(node, namespace, _node_addr(self.address).endpoint_id)
            self.__dict__["_registry"] = reader
        return reader

    async def load_schemas(self, names: Iterable[str] | None = None, *, timeout: float | None = None,
                           until_published: bool = False) -> list[ServiceInfo]:
        """Read the method schemas of the named services (all by default): cache first, then the peer.

        Manifests missing from the cache (``<home>/cache/manifests``) are read
        from the peer's registry document concurrently, waiting for it to sync,
        within ``timeout`` seconds (default :data:`SCHEMA_TIMEOUT`; see
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
        try:
            return await self._client._rpc_conn_for(target)  # cached per channel by the runtime
        except Exception as exc:
            raise CallUnavailable("UNAVAILABLE", f"cannot open the RPC channel of {svc.name}: {exc}",
                                  "The peer admitted us but its RPC endpoint did not answer.") from exc

    def invoke(self, service: str, method: str, request: Any = None, *,
               items: Iterable | AsyncIterable | None = None, timeout: float | None = None) -> AsyncIterator[Any]:
        """Yield the responses of one call as they arrive (any pattern, any scope, any version).

        ``request`` is the JSON object of unary and server-stream calls;
        ``items`` the requests of client- and bidi-stream calls. A session-scoped
        service is called through a one-call session.
        """
        svc = self.service(service)
        info = svc.method(method)
        return _with_timeout(self._invoke(svc, method, info, _requests(info, request, items), timeout), timeout)

    async def _invoke(self, svc: ServiceInfo, method: str, info: MethodInfo | None, requests: Any,
                      timeout: float | None) -> AsyncIterator[Any]:
        if svc.is_session:
            session = await self.session(svc.name)
            try:
                async for item in session._run(session._method(method), requests, timeout):
                    yield item
            except CallError as exc:
                raise _explain(self, svc, method, exc) from None
            finally:
                await session.close()
            return
        conn = await self._rpc_connection(svc)
        try:
            async for item in shared_call(conn, svc.name, svc.version, method, requests, timeout=timeout):
                yield item
        except CallError as exc:
            raise _explain(self, svc, method, exc) from None

    async def call(self, service: str, method: str, request: Any = None, *,
                   items: Iterable | AsyncIterable | None = None, timeout: float | None = None) -> Any:
        """One call; the single response (a list of them for server and bidi streams)."""
        info = self.service(service).method(method)
        return _collect(info, [r async for r in self.invoke(service, method, request, items=items,
                                                            timeout=timeout)])

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
        await _quiet_close(self._client)

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
    from .wire import _aiter

    n = 0
    async for item in _aiter(items):
        n += 1
        yield check_request(info, item, where=f"item {n}")


def _collect(info: MethodInfo | None, responses: list[Any]) -> Any:
    if info is not None and info.streams_responses:
        return responses
    if info is None and len(responses) != 1:
        return responses
    return responses[0] if responses else None


async def _with_timeout(source: AsyncIterator[Any], timeout: float | None) -> AsyncIterator[Any]:
    """Apply an overall deadline to a call's responses."""
    loop = asyncio.get_running_loop()
    end = None if not timeout else loop.time() + timeout
    iterator = source.__aiter__()
    try:
        while True:
            remaining = None if end is None else max(end - loop.time(), 0.001)
            try:
                item = await asyncio.wait_for(iterator.__anext__(), remaining)
            except StopAsyncIteration:
                return
            except asyncio.TimeoutError:
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


async def connect(address: str | Address, *, rcan: str | os.PathLike | None = None,
                  timeout: float | None = DEFAULT_TIMEOUT, schemas: bool | Iterable[str] = True) -> Connection:
    """Connect and run consumer admission; read method schemas unless ``schemas=False``.

    ``schemas`` may also name the services whose manifests to read (``aster
    call`` reads only the one it calls). ``timeout`` bounds the whole of it:
    dialling, admission and reading schemas (and closing a failed client takes
    at most :data:`CLOSE_TIMEOUT` more).
    """
    loop = asyncio.get_running_loop()
    deadline = None if not timeout else loop.time() + timeout
    addr = address if isinstance(address, Address) else resolve_address(address)
    if addr.kind == "registry":  # @handle/Service: the registry names the live endpoint
        from aster_registry.client.resolve import resolve

        left = None if deadline is None else max(deadline - loop.time(), 0.001)
        ticket = await resolve(addr.text, timeout=left)
        addr = Address(addr.text, ticket, "ticket")
    target = _node_addr(addr)
    kwargs: dict[str, Any] = {"address": target}
    credential: str | None = None
    if rcan is not None:
        path = Path(rcan).expanduser()
        kind = credential_kind(path)
        if kind == "identity":
            kwargs["identity"] = str(path)
        else:
            kwargs["enrollment_credential_file"] = str(path)
        credential = str(path)
    if addr.peer is not None:
        kwargs["peer"] = addr.peer
        kwargs.setdefault("identity", addr.identity_file)
        credential = credential or f"peer {addr.peer!r} of {addr.identity_file}"
    check_files(identity=kwargs.get("identity"), peer=kwargs.get("peer"),
                credential_file=kwargs.get("enrollment_credential_file"))
    client = await _admitted_client(kwargs, addr, credential, timeout, deadline)
    services = [ServiceInfo(name=s.name, version=int(s.version), scoped=getattr(s, "pattern", "shared") or "shared",
                            contract_id=s.contract_id,
                            serialization_modes=tuple(getattr(s, "serialization_modes", ()) or ()), summary=s)
                for s in client.services]
    highest: dict[str, int] = {}
    for svc in services:
        highest[svc.name] = max(highest.get(svc.name, 0), svc.version)
    for svc in services:
        svc.ref = svc.name if svc.version == highest[svc.name] else f"{svc.name}@{svc.version}"
    conn = Connection(addr, client, services, credential)
    if schemas:
        left = SCHEMA_TIMEOUT if deadline is None else min(SCHEMA_TIMEOUT, max(deadline - loop.time(), 0.001))
        await conn.load_schemas(None if schemas is True else list(schemas), timeout=left)  # type: ignore[arg-type]
    return conn


async def _admitted_client(kwargs: dict[str, Any], addr: Address, credential: str | None,
                           timeout: float | None, deadline: float | None) -> Any:
    """A runtime client that passed consumer admission, or the error that says why not.

    The producer drops its admission connection as soon as it has written the
    answer; on a loaded machine that can arrive as ``connection lost`` before
    the answer was read (seen in CI: one of ten concurrent `aster svc` commands).
    Such a loss is retried :data:`ADMISSION_RETRIES` more times within the
    deadline with the same credential (a one-time credential the first try spent is
    then refused, and said so as a denial).
    """
    from aster import AsterClient
    from aster.runtime import AdmissionDeniedError

    loop = asyncio.get_running_loop()
    attempt = 0
    while True:
        try:
            client = AsterClient(**kwargs)
        except (ValueError, KeyError, OSError) as exc:
            raise UsageError(f"cannot use the credential: {exc}",
                             "Check the file given with --rcan (or ASTER_ENROLLMENT_CREDENTIAL).") from exc
        if credential is None and getattr(client, "_inline_credential", None):
            credential = "the consumer peer of ./.aster-identity"
        elif credential is None and getattr(client, "_enrollment_credential_file", None):
            credential = str(client._enrollment_credential_file)
        left = None if deadline is None else max(deadline - loop.time(), 0.001)
        try:
            await asyncio.wait_for(client.connect(), left)
            return client
        except AdmissionDeniedError as exc:
            await _quiet_close(client)
            raise CallDenied("PERMISSION_DENIED", f"admission refused by {addr.text[:24]}...",
                             f"Credential presented: {credential or 'none'} (our endpoint id "
                             f"{exc.our_endpoint_id or '?'}). It may be expired, bound to another endpoint, or "
                             "signed by a root key this server does not trust.") from None
        except asyncio.TimeoutError:
            await _quiet_close(client)
            raise CallUnavailable("UNAVAILABLE", f"no answer from {addr.text[:24]}... within {timeout:g}s",
                                  "Check that the server is running and the address is current "
                                  "(a restarted server prints a new ticket).") from None
        except (UsageError, CallError):
            await _quiet_close(client)
            raise
        except Exception as exc:
            await _quiet_close(client)
            pause = ADMISSION_RETRY_PAUSE * (attempt + 1)
            if (attempt < ADMISSION_RETRIES and _lost_connection(exc)
                    and (deadline is None or deadline - loop.time() > pause)):
                await asyncio.sleep(pause)
                attempt += 1
                continue
            raise CallUnavailable("UNAVAILABLE", f"cannot reach {addr.text[:24]}...: {exc}",
                                  "Check the address and that the server is running.") from None


def _lost_connection(exc: BaseException) -> bool:
    """The runtime's ``IrohError("... connection lost")``: the peer closed the QUIC connection."""
    return type(exc).__name__ == "IrohError" and "connection lost" in str(exc)


async def close_client_before_exit(client: Any) -> None:
    """Close a runtime client's peer connections for a process that ends next, with :func:`exit_now`.

    The runtime's graceful close waits for the endpoint's QUIC draining
    period (measured: 80-90 ms on loopback, after the peer has already been
    told), and the interpreter's finalisation after it costs 40-60 ms more.
    Here each connection is closed with code 0 at once (the peer sees a
    normal close, as after a graceful one) and the endpoint is left to the
    process exit. A node with persistent storage (``ASTER_STORAGE_PATH``)
    is closed gracefully, so its store is flushed.
    """
    if getattr(getattr(client, "_config", None), "storage_path", None):
        await _quiet_close(client)
        return
    conns = list(getattr(client, "_rpc_conns", {}).values())
    for conn in conns:
        conn.close(0, b"")
    try:
        await asyncio.wait_for(asyncio.gather(*(c.closed() for c in conns), return_exceptions=True),
                               CLOSE_TIMEOUT)
        await asyncio.sleep(SEND_CLOSE_S)
    except asyncio.TimeoutError:
        pass


def exit_now(code: int = 0) -> NoReturn:
    """End the process at once after :meth:`Connection.close_before_exit`: flush, then ``os._exit``.

    Skips the interpreter's finalisation (and with it the runtime's endpoint
    teardown, which could print a Rust backtrace once Python is half gone).
    Only for the end of a command whose output is complete: atexit handlers
    do not run.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away (`| head`) is not an error here
            pass
    os._exit(code)


async def _quiet_close(client: Any) -> None:
    """Close the runtime's client within :data:`CLOSE_TIMEOUT` seconds, whatever happens.

    Closing a client whose dial failed waits for the node's endpoint to shut
    down (measured: 3 s after a dial to an address nobody listens at), which
    would make every ``--timeout`` a lie; what is left is dropped at exit.
    """
    try:
        await asyncio.wait_for(client.close(), CLOSE_TIMEOUT)
    except asyncio.TimeoutError:
        _quiet_exit()
    except Exception:
        pass


_quieted = False


def _quiet_exit() -> None:
    """After a close was cut short, silence stderr once our own last word is out.

    The runtime's threads still hold what the abandoned close was doing; when
    the interpreter finalises, one of them may panic trying to call back into
    Python and print a Rust backtrace to stderr after our one error line. At
    exit (after every message of ours) stderr is pointed at the null device.
    """
    global _quieted
    if _quieted:
        return
    _quieted = True
    import atexit

    def silence() -> None:
        try:
            sys.stderr.flush()
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        except (OSError, ValueError):
            pass

    atexit.register(silence)
