"""Calls on the wire, for every pattern, scope and service version.

The released runtime's clients write ``version=1`` into every stream header,
so no service of another version can be reached through them. This module
speaks the same protocol with the runtime's own lower-level pieces (frames
from :mod:`aster.framing`, headers from :mod:`aster.protocol`, the JSON codec)
and writes the version the peer announced for the service. Payloads use the
runtime's JSON mode, which every server accepts whatever its codec
(:mod:`aster_connect.payloads` encodes and decodes them).

Shared services: one QUIC stream per call — header, request frames, finish;
response frames until a trailer. The same sequence serves all four patterns.

Session-scoped services: one stream per session (header with an empty
method), then per call a CALL frame, the request frame(s) and, for streamed
input, an OK trailer as end of input. A unary or client-stream success is a
single data frame without trailer, so the caller must know the pattern. A call
given up on is ended with a CANCEL frame, which the server acknowledges with a
CANCELLED trailer after whatever it had already sent for that call.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, AsyncIterable, AsyncIterator, Iterable

from .errors import CallError, CallUnavailable, call_error
from .liveness import watch_peer
from .payloads import JSON_MODE, deadline_ms, decode, metadata_lists, new_codec, status_error
from .trace import CallTrace

#: seconds ending a session may take (a dead peer never acknowledges)
CLOSE_TIMEOUT = 0.5
#: seconds a session call given up on may take to be cancelled before the session is given up
CANCEL_TIMEOUT = 5.0


async def async_items(items: Iterable[Any] | AsyncIterable[Any]) -> AsyncIterator[Any]:
    """The items of a plain or an async iterable, one by one (request streams may be either)."""
    if hasattr(items, "__aiter__"):
        async for item in items:  # type: ignore[union-attr]
            yield item
    else:
        for item in items:  # type: ignore[union-attr]
            yield item


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


class Frames:
    """The frames of one stream, one at a time, each raced against the request writer's failure.

    ``kept`` is for a session's stream, which outlives its calls: a read the caller stops
    waiting for (cancelled) is not cut short, since a frame read halfway would put the
    stream out of step; it goes on, and its frame is the next one :meth:`next` returns.
    A call's own stream drops such a read with the stream.
    """

    def __init__(self, recv: Any, *, kept: bool = False) -> None:
        self._recv = recv
        self._kept = kept
        self._reading: asyncio.Future[tuple[bytes, int]] | None = None

    async def next(self, writer: "asyncio.Future[None] | None" = None) -> tuple[bytes, int]:
        """The next frame, or the writer's error if sending fails first (a bad input item)."""
        failure = None if writer is None else _failure(writer)
        if failure is not None:
            raise failure
        if self._reading is None:
            if not self._kept and (writer is None or writer.done()):
                return await _read(self._recv)  # nothing can fail first: read in the caller's task
            self._reading = asyncio.ensure_future(_read(self._recv))
        reading = self._reading
        try:
            while not reading.done():
                racing = {reading} if writer is None or writer.done() else {reading, writer}
                await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)  # never cancels `reading`
                failure = None if writer is None else _failure(writer)
                if failure is not None and not reading.done():
                    raise failure
        finally:
            if not reading.done() and not self._kept:  # the caller stopped: no reader left behind
                self.drop()
        self._reading = None
        return reading.result()

    def drop(self) -> None:
        """Stop a read still under way (the stream is being given up)."""
        reading, self._reading = self._reading, None
        if reading is not None:
            reading.cancel()
            reading.add_done_callback(_failure)  # its outcome is no one's: retrieved, never logged


async def shared_call(conn: Any, service: str, version: int, method: str,
                      requests: Iterable[Any] | AsyncIterable[Any], *, timeout: float | None = None,
                      metadata: dict[str, str] | None = None, trace: CallTrace | None = None) -> AsyncIterator[Any]:
    """Call ``service.method`` (a shared service) and yield each response as it arrives.

    ``metadata`` goes in the stream's header (the service reads it as ``ctx.metadata``).
    """
    from aster.framing import HEADER, ROW_SCHEMA, TRAILER, write_frame
    from aster.protocol import StreamHeader

    codec = new_codec()
    send, recv = await _io(conn.open_bi())
    header = StreamHeader(service=service, method=method, version=version, callId=str(uuid.uuid4()),
                          deadlineEpochMs=deadline_ms(timeout), serializationMode=JSON_MODE,
                          **metadata_lists(metadata))
    await _io(write_frame(send, codec.encode(header), flags=HEADER))
    if trace is not None:
        trace.metadata = dict(metadata or {})
        trace.sent()

    async def pump() -> None:
        async for item in async_items(requests):
            await _io(write_frame(send, codec.encode(item), flags=0))
            if trace is not None:
                trace.requests += 1
        await _io(send.finish())

    writer = asyncio.ensure_future(pump())
    frames = Frames(recv)
    watch = watch_peer(conn)
    try:
        while True:
            payload, flags = await frames.next(writer)
            if trace is not None:
                trace.frame()
            if flags & TRAILER:
                error = status_error(codec, payload, trace)
                if error is not None:
                    raise error
                return
            if flags & ROW_SCHEMA:
                continue
            if trace is not None:
                trace.responses += 1
            yield decode(codec, payload, flags)
    except CallError:
        if watch.gone:
            raise watch.error() from None
        raise
    finally:
        watch.release()
        await _settle(writer)


class SessionStream:
    """One session with a session-scoped service: calls run one at a time, state persists.

    A call the caller gives up on (its task cancelled, or its responses closed early)
    does not end the session: once its request is fully sent, the server is told with a
    CANCEL frame and what is left of the call is read, up to the server's CANCELLED
    trailer, in the background; the next call waits for that (at most
    :data:`CANCEL_TIMEOUT` seconds, after which the session is given up).
    """

    def __init__(self, conn: Any, service: str, version: int):
        self._conn = conn
        self.service = service
        self.version = version
        self.session_id = str(uuid.uuid4())
        self._codec = new_codec()
        self._send: Any = None
        self._frames: Frames | None = None
        self._lock = asyncio.Lock()
        self._winding_down: asyncio.Future[None] | None = None
        #: set when the server ended the session (it does after some errors)
        self.ended = False

    async def open(self) -> None:
        from aster.framing import HEADER, write_frame
        from aster.protocol import StreamHeader

        self._send, recv = await _io(self._conn.open_bi())
        self._frames = Frames(recv, kept=True)
        header = StreamHeader(service=self.service, method="", version=self.version, callId=self.session_id,
                              serializationMode=JSON_MODE)
        await _io(write_frame(self._send, self._codec.encode(header), flags=HEADER))

    async def close(self) -> None:
        if self._winding_down is not None:
            self._winding_down.cancel()
        if self._frames is not None:
            self._frames.drop()
        if self._send is not None:
            try:
                await asyncio.wait_for(self._send.finish(), CLOSE_TIMEOUT)
            except (asyncio.TimeoutError, Exception):
                pass  # the peer is gone or slow: the session is over either way
            self._send = None

    def _refuse_if_ended(self) -> None:
        if self.ended:
            raise call_error("FAILED_PRECONDITION", f"the session with {self.service} has ended",
                             "Open a new session.")

    async def call(self, method: str, pattern: str, requests: Iterable[Any] | AsyncIterable[Any], *,
                   timeout: float | None = None, metadata: dict[str, str] | None = None,
                   trace: CallTrace | None = None) -> AsyncIterator[Any]:
        """Run one call of the given ``pattern`` and yield its responses (``metadata`` in its call header)."""
        from aster.framing import CALL, TRAILER, write_frame
        from aster.protocol import CallHeader, RpcStatus

        self._refuse_if_ended()
        async with self._lock:
            if self._winding_down is not None:  # a call given up on is still being cancelled
                await asyncio.wait({self._winding_down})
                self._winding_down = None
            self._refuse_if_ended()
            assert self._frames is not None
            codec = self._codec
            call = CallHeader(method=method, callId=str(uuid.uuid4()), deadlineEpochMs=deadline_ms(timeout),
                              **metadata_lists(metadata))
            try:
                await _io(write_frame(self._send, codec.encode(call), flags=CALL))
            except BaseException:  # failed or cut short: the frame may be half written
                self.ended = True
                raise
            if trace is not None:
                trace.metadata = dict(metadata or {})
                trace.sent()
            streamed_in = pattern in ("client_stream", "bidi_stream")

            async def pump() -> None:
                sent = 0
                async for item in async_items(requests):
                    await _io(write_frame(self._send, codec.encode(item), flags=0))
                    sent += 1
                    if trace is not None:
                        trace.requests += 1
                    if not streamed_in:
                        break
                if streamed_in:
                    await _io(write_frame(self._send, codec.encode(RpcStatus(code=0, message="")), flags=TRAILER))
                elif sent == 0:
                    await _io(write_frame(self._send, codec.encode({}), flags=0))

            writer = asyncio.ensure_future(pump())
            watch = watch_peer(self._conn)
            complete = False
            try:
                single = pattern in ("unary", "client_stream")
                while True:
                    payload, flags = await self._frames.next(writer)
                    if trace is not None:
                        trace.frame()
                    if flags & TRAILER:
                        error = status_error(codec, payload, trace)
                        if error is not None:
                            # After a refused call the server reads our request
                            # frame as a stray frame and ends the session.
                            self.ended = error.status in ("PERMISSION_DENIED", "UNAUTHENTICATED",
                                                          "FAILED_PRECONDITION", "UNIMPLEMENTED")
                            raise error
                        return
                    complete = single
                    if trace is not None:
                        trace.responses += 1
                    yield decode(codec, payload, flags)
                    if single:
                        return
            except BaseException as exc:
                gave_up = isinstance(exc, (asyncio.CancelledError, GeneratorExit))
                answered = isinstance(exc, CallError) and not isinstance(exc, CallUnavailable) \
                    and exc is not _failure(writer)
                if gave_up and not complete and writer.done() and not writer.cancelled() \
                        and _failure(writer) is None:
                    self._winding_down = asyncio.ensure_future(self._cancel_call())
                elif not (answered or complete):
                    # Our input failed, the stream broke, or the caller stopped while the
                    # request was still being sent: the stream is out of step for good.
                    self.ended = True
                if isinstance(exc, CallError) and watch.gone:
                    raise watch.error() from None
                raise
            finally:
                watch.release()
                await _settle(writer)

    async def _cancel_call(self) -> None:
        """Cancel the call in flight on the server and read what is left of it (its answer, if
        the server had one ready, then the CANCELLED trailer that acknowledges the CANCEL)."""
        from aster.framing import CANCEL, TRAILER, write_frame

        assert self._frames is not None
        try:
            async with asyncio.timeout(CANCEL_TIMEOUT):
                await _io(write_frame(self._send, b"", flags=CANCEL))
                while True:
                    payload, flags = await self._frames.next()
                    if flags & TRAILER:
                        error = status_error(self._codec, payload)
                        if error is not None and error.status == "CANCELLED":
                            return
        except (Exception, asyncio.CancelledError):  # no acknowledgement: the stream cannot be trusted
            self.ended = True
