"""stdio claimed at once, and ``initialize`` answered before the MCP SDK is imported.

Importing the SDK (pydantic models for every protocol version) is most of
``aster mcp``'s start-up. The handshake needs none of it: the answer to
``initialize`` depends only on the protocol version the client asks for. So
``aster mcp`` claims stdin and stdout first (fd 0 then reads the null device
and fd 1 writes to stderr, as under the SDK's own stdio transport), and a
reader thread using nothing but the standard library answers the first line
itself when it is an ``initialize`` request the SDK would certainly accept,
with exactly the bytes the SDK would send (same version negotiation,
capabilities, serverInfo and instructions). Every line, that one included, is
then handed to the SDK in order once it is imported: its session sees the
handshake and accepts what follows, and its own answer to the replayed
``initialize`` is dropped (after comparing it with ours: a difference is
logged). A line of any other shape, or an ``initialize`` with anything this
module cannot vouch for, is left for the SDK to answer, as before.

The same holds for later answers given early (:meth:`EarlyStdio.answer_early`,
used for ``tools/list`` by :mod:`aster_mcp.listing`): the SDK sees the request
in order, and its own answer is dropped after comparison with ours.
"""

from __future__ import annotations

import asyncio
import fcntl
import io
import json
import logging
import os
import threading
from typing import Any, AsyncIterator, Callable

from . import __version__

log = logging.getLogger("aster_mcp")

SERVER_NAME = "aster-mcp"
INSTRUCTIONS = ("Each tool calls one method of a live Aster service. Streaming methods return their "
                "messages collected in `items`; client-streaming methods take their messages in `_items`.")
#: ``mcp_types.version.HANDSHAKE_PROTOCOL_VERSIONS``, oldest to newest (tests/mcp checks they agree)
HANDSHAKE_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
#: lines read ahead of the SDK (the reader waits beyond this, as a pipe would)
READ_AHEAD = 16

_ANY = "any object"
#: what ``ClientCapabilities`` declares (other members are ignored by the SDK, so allowed here)
_CAPABILITIES: dict[str, Any] = {
    "experimental": "object of objects",
    "extensions": "object of objects",
    "sampling": {"context": _ANY, "tools": _ANY},
    "elicitation": {"form": _ANY, "url": _ANY},
    "roots": {"listChanged": bool},
    "tasks": {"list": _ANY, "cancel": _ANY,
              "requests": {"sampling": {"createMessage": _ANY}, "elicitation": {"create": _ANY}}},
}
_INT64 = 2 ** 63


def initialize_result(requested: str) -> dict[str, Any]:
    """The SDK's ``InitializeResult`` for a client asking for protocol version ``requested``."""
    negotiated = requested if requested in HANDSHAKE_VERSIONS else HANDSHAKE_VERSIONS[-1]
    return {"capabilities": {"tools": {"listChanged": True}}, "instructions": INSTRUCTIONS,
            "protocolVersion": negotiated, "serverInfo": {"name": SERVER_NAME, "version": __version__}}


def _fits(value: Any, shape: Any) -> bool:
    if value is None:
        return True  # every member described here is optional
    if shape is bool:
        return isinstance(value, bool)
    if not isinstance(value, dict):
        return False
    if shape == "object of objects":
        return all(isinstance(item, dict) for item in value.values())
    if shape == _ANY:
        return True
    return all(_fits(value[key], inner) for key, inner in shape.items() if key in value)


def text_is_clean(value: Any) -> bool:
    """No lone surrogates anywhere (the SDK's JSON reader refuses them; Python's takes them)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(text_is_clean(k) and text_is_clean(v) for k, v in value.items())
    if isinstance(value, list):
        return all(text_is_clean(v) for v in value)
    return True


def refuse_constant(name: str) -> Any:
    """``parse_constant`` for :func:`json.loads`: NaN and Infinity are not JSON; the SDK refuses them."""
    raise ValueError(name)


def usable_id(ident: Any) -> bool:
    """Whether ``ident`` is a request id the SDK takes as it is (a string, or an integer in int64)."""
    if isinstance(ident, bool) or not isinstance(ident, (int, str)):
        return False
    return not isinstance(ident, int) or -_INT64 <= ident < _INT64


def _acceptable(message: Any) -> bool:
    """Whether ``message`` is an ``initialize`` request the SDK accepts (a strict subset of them)."""
    if not isinstance(message, dict) or set(message) != {"jsonrpc", "id", "method", "params"}:
        return False
    ident, params = message["id"], message["params"]
    if message["jsonrpc"] != "2.0" or message["method"] != "initialize" or not isinstance(params, dict):
        return False
    if not usable_id(ident):
        return False
    if "_meta" in params or not isinstance(params.get("protocolVersion"), str):
        return False
    capabilities, client = params.get("capabilities"), params.get("clientInfo")
    if not isinstance(capabilities, dict) or not isinstance(client, dict):
        return False
    if not all(_fits(capabilities[key], shape) for key, shape in _CAPABILITIES.items() if key in capabilities):
        return False
    if not isinstance(client.get("name"), str) or not isinstance(client.get("version"), str):
        return False
    if client.get("icons") is not None:
        return False
    if not all(isinstance(client.get(key), (str, type(None))) for key in ("title", "description", "websiteUrl")):
        return False
    return text_is_clean(message)


def early_answer(line: str) -> tuple[Any, str] | None:
    """``(request id, response line)`` for an ``initialize`` this module can answer, else ``None``."""
    text = line.strip()
    if not text.startswith("{") or '"initialize"' not in text:
        return None
    try:
        message = json.loads(text, parse_constant=refuse_constant)
    except (ValueError, RecursionError):
        return None
    if not _acceptable(message):
        return None
    response = {"jsonrpc": "2.0", "id": message["id"],
                "result": initialize_result(message["params"]["protocolVersion"])}
    return message["id"], json.dumps(response, ensure_ascii=False, separators=(",", ":"))


def parsed_response(text: str) -> dict[str, Any] | None:
    """A line the SDK writes, parsed, when it is a response (an ``id``, no ``method``); None for a
    request or notification of the server's, or a line that is no JSON object."""
    try:
        message = json.loads(text)
    except ValueError:
        return None
    if not isinstance(message, dict) or "method" in message or "id" not in message:
        return None
    return message


def duplicate_verdict(answered: tuple[Any, str], text: str) -> tuple[bool, str | None] | None:
    """For a line the SDK writes after ``answered`` went out early: ``None`` when it is no response
    (a request or notification of the server's); else ``(drop it, warning)``: the SDK's answer to
    the ``initialize`` already answered is dropped, and a difference from ours is a warning."""
    message = parsed_response(text)
    if message is None:
        return None
    ident, ours = answered
    if message["id"] != ident:
        return False, f"the SDK's first response was not to initialize (id {message['id']!r}); nothing dropped"
    theirs = text.rstrip("\n")
    if theirs != ours:
        return True, f"initialize was answered early with {ours}; the SDK would have answered {theirs}"
    return True, None


def _response_head(ident: Any) -> str:
    """How the SDK's JSON-RPC response to request ``ident`` begins (its members in this order)."""
    return '{"jsonrpc":"2.0","id":' + json.dumps(ident, ensure_ascii=False, separators=(",", ":"))


class EarlyStdio:
    """The protocol's stdin and stdout, claimed before anything else runs (see the module docstring).

    One reader thread owns stdin: it answers an opening ``initialize`` itself
    and queues every line for :meth:`lines`, which the SDK's transport reads
    once it is imported. :meth:`write` is the SDK's stdout; it drops the SDK's
    answer to the ``initialize`` already answered.
    """

    def __init__(self) -> None:
        self._in = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
        self._out = fcntl.fcntl(1, fcntl.F_DUPFD_CLOEXEC, 3)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.dup2(2, 1)  # stray output of the runtime or of handlers misses the wire
        self._write_lock = threading.Lock()
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(READ_AHEAD)
        self._pending: list[str | None] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[str | None] | None = None
        #: the id and line of the answer already sent for ``initialize``, until the SDK's own comes
        self.answered: tuple[Any, str] | None = None
        #: whether ``initialize`` was answered here (the session is then in the handshake era)
        self.initialize_answered = False
        #: every line read, for the early responder, until it stops watching (then None)
        self._seen: list[str | None] | None = []
        self._seen_signal: Callable[[], None] | None = None
        #: later requests answered early: id key -> (our line, what to send when the SDK's differs)
        self._early: dict[tuple[bool, Any], tuple[str, Callable[[str], str | None]]] = {}
        #: how the SDK's answers to them begin (its output is parsed only when a line begins so)
        self._early_heads: set[str] = set()
        self._reader = threading.Thread(target=self._read, name="aster-mcp-stdin", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        text = io.TextIOWrapper(os.fdopen(self._in, "rb", closefd=False), encoding="utf-8", errors="replace")
        first = True
        while True:
            self._slots.acquire()
            try:
                line = text.readline()
            except (OSError, ValueError):
                line = ""
            if first and line.strip():
                first = False
                answer = early_answer(line)
                if answer is not None:
                    self.answered = answer
                    try:
                        self._write_bytes((answer[1] + "\n").encode("utf-8"))
                        self.initialize_answered = True
                    except OSError:
                        self.answered = None
            self._deliver(line or None)
            if not line:
                return

    def _deliver(self, line: str | None) -> None:
        with self._lock:
            signal = None
            if self._seen is not None:
                self._seen.append(line)
                signal, self._seen_signal = self._seen_signal, None
            if signal is not None:
                signal()
            if self._loop is None:
                self._pending.append(line)
                return
            loop, queue = self._loop, self._queue
        try:
            loop.call_soon_threadsafe(queue.put_nowait, line)  # type: ignore[union-attr]
        except RuntimeError:
            pass  # the loop has closed: the server is gone

    def _write_bytes(self, data: bytes) -> None:
        with self._write_lock:
            view = memoryview(data)
            while view:
                view = view[os.write(self._out, view):]

    async def lines(self) -> AsyncIterator[str]:
        """Every line read from stdin, in order, from the first; ends at end of input."""
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._queue = asyncio.Queue()
            for line in self._pending:
                self._queue.put_nowait(line)
            self._pending = []
        while True:
            line = await self._queue.get()
            self._slots.release()
            if line is None:
                return
            yield line

    async def seen_line(self, index: int) -> str | None:
        """Line ``index`` (from 0) of stdin once it has been read; None for the end of input."""
        loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                if self._seen is None:
                    raise RuntimeError("the early responder has stopped watching")
                if len(self._seen) > index:
                    return self._seen[index]
                ready = asyncio.Event()

                def signal() -> None:
                    try:
                        loop.call_soon_threadsafe(ready.set)
                    except RuntimeError:
                        pass  # the loop has closed

                self._seen_signal = signal
            await ready.wait()

    def stop_watching(self) -> None:
        """The early responder is done: stop keeping lines for it."""
        with self._lock:
            self._seen, self._seen_signal = None, None

    async def answer_early(self, ident: Any, line: str, on_difference: Callable[[str], str | None]) -> None:
        """Send ``line``, the answer to request ``ident``, now. When the SDK answers the same request
        (replayed to it in order), its answer is dropped; if it says something else,
        ``on_difference(its line)`` gives the line to send instead (None: nothing)."""
        self._early[(isinstance(ident, str), ident)] = (line, on_difference)
        self._early_heads.add(_response_head(ident))
        await asyncio.to_thread(self._write_bytes, (line + "\n").encode("utf-8"))

    async def write(self, text: str) -> None:
        """One line of the SDK's output (its ``stdio_server`` stdout)."""
        if self.answered is not None and self._is_duplicate(text):
            return
        if self._early and any(text.startswith(head) for head in self._early_heads):
            replacement = self._early_duplicate(text)
            if replacement is not None:
                if not replacement:
                    return
                text = replacement + "\n"
        import anyio

        await anyio.to_thread.run_sync(self._write_bytes, text.encode("utf-8"))

    async def flush(self) -> None:
        """Nothing to flush: :meth:`write` writes through."""

    def _is_duplicate(self, text: str) -> bool:
        """Whether ``text`` is the SDK's answer to the ``initialize`` answered early."""
        verdict = duplicate_verdict(self.answered, text)  # type: ignore[arg-type]
        if verdict is None:
            return False
        self.answered = None  # the SDK answers initialize inline, so its first response is that one
        drop, warning = verdict
        if warning:
            log.warning("%s", warning)
        return drop

    def _early_duplicate(self, text: str) -> str | None:
        """For the SDK's answer to a request answered early: "" (drop it) or the line to send
        instead; None for any other line."""
        message = parsed_response(text)
        if message is None:
            return None
        ident = message["id"]
        found = self._early.pop((isinstance(ident, str), ident), None) if usable_id(ident) else None
        if found is None:
            return None
        self._early_heads.discard(_response_head(ident))
        ours, on_difference = found
        theirs = text.rstrip("\n")
        if theirs == ours or json.loads(ours) == message:
            return ""
        log.warning("request %r was answered early with %s; the SDK answered %s", ident, ours[:2000],
                    theirs[:2000])
        return on_difference(theirs) or ""

    def restore(self) -> None:
        """Point fd 0 and fd 1 back at the protocol's pipes (at the end of serving)."""
        for fd, private in ((0, self._in), (1, self._out)):
            try:
                os.dup2(private, fd)
            except OSError:
                pass
