"""Calls on the wire, for every pattern, scope and service version.

The released runtime's clients write ``version=1`` into every stream header,
so no service of another version can be reached through them. This module
speaks the same protocol with the runtime's own lower-level pieces (frames
from :mod:`aster.framing`, headers from :mod:`aster.protocol`, the JSON codec)
and writes the version the peer announced for the service. Payloads use the
runtime's JSON mode, which every server accepts whatever its codec.

Shared services: one QUIC stream per call — header, request frames, finish;
response frames until a trailer. The same sequence serves all four patterns.

Session-scoped services: one stream per session (header with an empty
method), then per call a CALL frame, the request frame(s) and, for streamed
input, an OK trailer as end of input. A unary or client-stream success is a
single data frame without trailer, so the caller must know the pattern.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, AsyncIterable, AsyncIterator, Iterable

from .errors import CallError, CallUnavailable, call_error
from .liveness import watch_peer

JSON_MODE = 3  # aster.rpc_types.SerializationMode.JSON
#: seconds ending a session may take (a dead peer never acknowledges)
CLOSE_TIMEOUT = 0.5


def _codec():
    from aster.json_codec import JsonProxyCodec

    return JsonProxyCodec()


def deadline_ms(timeout: float | None) -> int:
    """Absolute deadline for a header (0 = none)."""
    return int((time.time() + timeout) * 1000) if timeout else 0


async def async_items(items: Iterable[Any] | AsyncIterable[Any]) -> AsyncIterator[Any]:
    """The items of a plain or an async iterable, one by one (request streams may be either)."""
    if hasattr(items, "__aiter__"):
        async for item in items:  # type: ignore[union-attr]
            yield item
    else:
        for item in items:  # type: ignore[union-attr]
            yield item


def _status_error(codec: Any, payload: bytes) -> CallError | None:
    """The error a trailer carries, or ``None`` for OK."""
    from aster.protocol import RpcStatus

    if not payload:
        return None
    status = codec.decode(payload, RpcStatus)
    code = int(getattr(status, "code", 0) or 0)
    return None if code == 0 else call_error(code, str(getattr(status, "message", "") or "(no message)"))


def _decode(codec: Any, payload: bytes, flags: int) -> Any:
    from aster.framing import COMPRESSED

    return codec.decode_compressed(payload, bool(flags & COMPRESSED))


def transport_error(exc: BaseException) -> CallError:
    """A failure of the connection itself (the peer died, the stream broke) as a call error.

    The runtime raises its own types for these (``IrohError("connection
    lost")``, ``RpcError`` for a reset stream, ``OSError``...): each becomes a
    status, so a shell reports it for one line and goes on.
    """
    if isinstance(exc, CallError):
        return exc
    code = getattr(exc, "code", None)
    if code is not None and hasattr(exc, "message"):  # the runtime's RpcError
        try:
            return call_error(int(code), str(exc.message or exc))
        except (TypeError, ValueError):
            pass
    return CallUnavailable("UNAVAILABLE", f"the connection to the peer failed: {exc or type(exc).__name__}",
                           "The peer may have stopped or dropped the connection; check it and try again.")


async def _io(awaitable: Any) -> Any:
    """Await one operation on the connection; its failure is a :func:`transport_error`."""
    try:
        return await awaitable
    except CallError:
        raise
    except Exception as exc:
        raise transport_error(exc) from exc


async def _read(recv: Any) -> tuple[bytes, int]:
    from aster.framing import read_frame

    frame = await _io(read_frame(recv))
    if frame is None:
        raise CallUnavailable("UNAVAILABLE", "the peer closed the connection before answering",
                              "The server may have stopped or dropped the connection; try again.")
    return frame


def _failure(task: "asyncio.Future[None]") -> BaseException | None:
    if not task.done() or task.cancelled():
        return None
    return task.exception()


async def _settle(writer: "asyncio.Future[None]") -> None:
    """Stop the request writer if it still runs and wait for it; the answer (or its
    error) is what counts, so its own outcome is dropped.

    Waiting with ``asyncio.wait`` (which never raises the writer's outcome) keeps
    a cancellation of the caller's own task apart from the writer's: the caller's
    propagates, the writer's is dropped.
    """
    if not writer.done():
        writer.cancel()
    await asyncio.wait({writer})
    _failure(writer)  # retrieved, so asyncio does not log it as never retrieved


async def _next_frame(recv: Any, writer: "asyncio.Future[None]") -> tuple[bytes, int]:
    """The next frame, or the writer's error if sending fails first (a bad input item)."""
    if writer.done():
        failure = _failure(writer)
        if failure is not None:
            raise failure
        return await _read(recv)
    reading = asyncio.ensure_future(_read(recv))
    try:
        await asyncio.wait({reading, writer}, return_when=asyncio.FIRST_COMPLETED)
        failure = _failure(writer)
        if not reading.done() and failure is not None:
            raise failure
        return await reading
    finally:
        if not reading.done():  # the caller stopped (cancelled) or the writer failed: no reader left behind
            reading.cancel()


async def shared_call(conn: Any, service: str, version: int, method: str,
                      requests: Iterable[Any] | AsyncIterable[Any], *,
                      timeout: float | None = None) -> AsyncIterator[Any]:
    """Call ``service.method`` (a shared service) and yield each response as it arrives."""
    from aster.framing import HEADER, ROW_SCHEMA, TRAILER, write_frame
    from aster.protocol import StreamHeader

    codec = _codec()
    send, recv = await _io(conn.open_bi())
    header = StreamHeader(service=service, method=method, version=version, callId=str(uuid.uuid4()),
                          deadlineEpochMs=deadline_ms(timeout), serializationMode=JSON_MODE)
    await _io(write_frame(send, codec.encode(header), flags=HEADER))

    async def pump() -> None:
        async for item in async_items(requests):
            await _io(write_frame(send, codec.encode(item), flags=0))
        await _io(send.finish())

    writer = asyncio.ensure_future(pump())
    watch = watch_peer(conn)
    try:
        while True:
            payload, flags = await _next_frame(recv, writer)
            if flags & TRAILER:
                error = _status_error(codec, payload)
                if error is not None:
                    raise error
                return
            if flags & ROW_SCHEMA:
                continue
            yield _decode(codec, payload, flags)
    except CallError:
        if watch.gone:
            raise watch.error() from None
        raise
    finally:
        watch.release()
        await _settle(writer)


class SessionStream:
    """One session with a session-scoped service: calls run one at a time, state persists."""

    def __init__(self, conn: Any, service: str, version: int):
        self._conn = conn
        self.service = service
        self.version = version
        self.session_id = str(uuid.uuid4())
        self._codec = _codec()
        self._send: Any = None
        self._recv: Any = None
        self._lock = asyncio.Lock()
        #: set when the server ended the session (it does after some errors)
        self.ended = False

    async def open(self) -> None:
        from aster.framing import HEADER, write_frame
        from aster.protocol import StreamHeader

        self._send, self._recv = await _io(self._conn.open_bi())
        header = StreamHeader(service=self.service, method="", version=self.version, callId=self.session_id,
                              serializationMode=JSON_MODE)
        await _io(write_frame(self._send, self._codec.encode(header), flags=HEADER))

    async def close(self) -> None:
        if self._send is not None:
            try:
                await asyncio.wait_for(self._send.finish(), CLOSE_TIMEOUT)
            except (asyncio.TimeoutError, Exception):
                pass  # the peer is gone or slow: the session is over either way
            self._send = None

    async def call(self, method: str, pattern: str, requests: Iterable[Any] | AsyncIterable[Any], *,
                   timeout: float | None = None) -> AsyncIterator[Any]:
        """Run one call of the given ``pattern`` and yield its responses."""
        from aster.framing import CALL, TRAILER, write_frame
        from aster.protocol import CallHeader, RpcStatus

        if self.ended:
            raise call_error("FAILED_PRECONDITION", f"the session with {self.service} has ended",
                             "Open a new session.")
        async with self._lock:
            codec = self._codec
            call = CallHeader(method=method, callId=str(uuid.uuid4()), deadlineEpochMs=deadline_ms(timeout))
            try:
                await _io(write_frame(self._send, codec.encode(call), flags=CALL))
            except CallError:
                self.ended = True
                raise
            streamed_in = pattern in ("client_stream", "bidi_stream")

            async def pump() -> None:
                sent = 0
                async for item in async_items(requests):
                    await _io(write_frame(self._send, codec.encode(item), flags=0))
                    sent += 1
                    if not streamed_in:
                        break
                if streamed_in:
                    await _io(write_frame(self._send, codec.encode(RpcStatus(code=0, message="")), flags=TRAILER))
                elif sent == 0:
                    await _io(write_frame(self._send, codec.encode({}), flags=0))

            writer = asyncio.ensure_future(pump())
            watch = watch_peer(self._conn)
            try:
                single = pattern in ("unary", "client_stream")
                while True:
                    payload, flags = await _next_frame(self._recv, writer)
                    if flags & TRAILER:
                        error = _status_error(codec, payload)
                        if error is not None:
                            # After a refused call the server reads our request
                            # frame as a stray frame and ends the session.
                            self.ended = error.status in ("PERMISSION_DENIED", "UNAUTHENTICATED",
                                                          "FAILED_PRECONDITION", "UNIMPLEMENTED")
                            raise error
                        return
                    yield _decode(codec, payload, flags)
                    if single:
                        return
            except BaseException as exc:
                # Anything but a status the server answered (our input failed,
                # the stream broke, the caller stopped early) leaves the stream
                # out of step, so the session cannot be used further.
                answered = isinstance(exc, CallError) and not isinstance(exc, CallUnavailable) \
                    and exc is not _failure(writer)
                if not answered:
                    self.ended = True
                if isinstance(exc, CallError) and watch.gone:
                    raise watch.error() from None
                raise
            finally:
                watch.release()
                await _settle(writer)
