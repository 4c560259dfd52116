"""``aster call ADDRESS --batch``: many calls from one script over one connection.

Input, stdin, one JSON object per line (blank lines skipped)::

    {"method": "EchoService.echo", "args": {"text": "hi"}, "metadata": {"trace": "7"}, "id": "a"}

``method`` is ``SERVICE.METHOD`` (``SERVICE@N.METHOD`` for version N); ``args`` the request
(default ``{}``); ``items`` a JSON array of requests for client and bidi streams; ``metadata``
text pairs added to the ``-H`` ones (the line's win); ``id`` any JSON value, echoed back.

Output, stdout, one JSON line per input line that is not blank, in input order::

    {"line": 1, "id": "a", "method": "EchoService.echo", "status": "ok", "result": {...}}
    {"line": 2, "method": "EchoService.fail", "status": "error", "error": {"status": "INTERNAL", "code": 13, ...}}
    {"line": 3, "status": "invalid", "error": {"status": "INVALID_ARGUMENT", "message": "...", ...}}
    {"line": 4, "method": "EchoService.slow", "status": "cancelled"}        (after --fail-fast)

Server-stream (and bidi) responses are collected: ``result`` is the list of them.

At most ``parallel`` calls are in flight; each is a stream of its own on the one connection
(a session-scoped service gets a one-call session). Results wait for the ones before them, at
most :data:`WINDOW` lines ahead, so memory stays bounded however slow one call is. A failed call
never stops the others; with ``fail_fast`` the first failure (or invalid line) stops reading,
cancels the calls in flight (each written as ``cancelled``) and ends the run.

Limits: a line of more than :data:`MAX_LINE` bytes is ``invalid`` (and skipped without being
held in memory); after :data:`MAX_LINES` lines one ``invalid`` result says the rest was not read.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, Any, Callable

from aster_core.errors import AsterError, UsageError

__all__ = ["MAX_LINE", "MAX_LINES", "WINDOW", "Request", "parse_line",
           "run_batch", "emit_line", "exit_code"]

#: bytes one input line may hold
MAX_LINE = 4 * 1024 * 1024
#: input lines one run reads
MAX_LINES = 1_000_000
#: results kept waiting for an earlier, slower call before reading stops for a while
WINDOW = 1024
KEYS = ("method", "args", "items", "metadata", "id")
HINT = ('Write one JSON object per line: {"method": "Service.method", "args": {...}, '
        '"metadata": {...}} (also "items" for streamed input, "id" to tag the result).')
_TOO_LONG = object()


@dataclass
class Request:
    """One parsed input line."""

    line: int
    method: str
    service: str
    name: str
    args: Any = None
    items: list | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    tag: dict[str, Any] = field(default_factory=dict)  # {"id": ...} when the line had one


def _head(line: int, tag: dict[str, Any], method: str | None = None) -> dict[str, Any]:
    head: dict[str, Any] = {"line": line, **tag}
    if method is not None:
        head["method"] = method
    return head


def parse_line(raw: bytes, line: int, base_metadata: dict[str, str]) -> Request:
    """A :class:`Request` from one input line, or a UsageError saying what is wrong with it."""
    from aster_core.jsonlimits import loads_limited

    from .jsontext import MAX_NESTING, JsonLimit, check_value
    from .metadata import check_metadata
    from .targets import split_target

    if raw is _TOO_LONG:
        raise UsageError(f"the line is longer than {MAX_LINE} bytes", "Send the request in smaller lines.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError("the line is not UTF-8 text", HINT) from None
    doc = loads_limited(text, field="the line", max_depth=MAX_NESTING + 1, max_bytes=MAX_LINE, constants=False,
                        hint=HINT)
    if not isinstance(doc, dict):
        raise UsageError(f"the line is a JSON {type(doc).__name__}, not an object", HINT)
    tag = {"id": doc["id"]} if "id" in doc else {}
    unknown = sorted(set(doc) - set(KEYS))
    if unknown:
        raise _tagged(UsageError(f"unknown key {unknown[0]!r}", f"Keys: {', '.join(KEYS)}."), tag)
    method = doc.get("method")
    if not isinstance(method, str):
        raise _tagged(UsageError('"method" is missing or not text', HINT), tag)
    try:
        service, name = split_target(method)
        args = doc.get("args")
        if args is not None and not isinstance(args, dict):
            raise UsageError(f'"args" must be a JSON object, not {type(args).__name__}',
                             'Streamed input goes in "items" (a JSON array).')
        items = doc.get("items")
        if items is not None and not isinstance(items, list):
            raise UsageError(f'"items" must be a JSON array, not {type(items).__name__}', HINT)
        if items is not None and args is not None:
            raise UsageError('give "args" (one request) or "items" (streamed requests), not both', HINT)
        try:
            check_value(args)
            check_value(items)
        except JsonLimit as exc:
            raise UsageError(f"the request cannot be sent: {exc}",
                             "Send a flatter request with numbers a 64-bit field can hold.") from None
        given = doc.get("metadata")
        metadata = {**base_metadata, **check_metadata({} if given is None else given, '"metadata"')}
        check_metadata(metadata, '"metadata" with -H')
    except UsageError as exc:
        raise _tagged(exc, tag, method) from None
    return Request(line, method, service, name, args, items, metadata, tag)


def _tagged(error: UsageError, tag: dict[str, Any], method: str | None = None) -> UsageError:
    error.tag = tag  # type: ignore[attr-defined]  # what the invalid result echoes back
    error.method = method  # type: ignore[attr-defined]
    return error


def _invalid(line: int, error: UsageError) -> dict[str, Any]:
    from .errors import error_data

    head = _head(line, getattr(error, "tag", {}), getattr(error, "method", None))
    return {**head, "status": "invalid", "error": error_data(error)}


class _Lines:
    """Input lines read by a daemon thread, handed to the event loop with back-pressure.

    A thread, not the loop's executor: a read blocked on a silent stdin must not keep the
    process alive after ``--fail-fast`` has ended the run.
    """

    def __init__(self, stream: IO[bytes], loop: asyncio.AbstractEventLoop) -> None:
        self._stream = stream
        self._loop = loop
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=64)
        threading.Thread(target=self._pump, name="aster-batch-stdin", daemon=True).start()

    def _read(self) -> Any:
        data = self._stream.readline(MAX_LINE + 1)
        if len(data) > MAX_LINE and not data.endswith(b"\n"):
            while True:  # skip the rest of the line, a piece at a time
                more = self._stream.readline(1 << 16)
                if not more or more.endswith(b"\n"):
                    return _TOO_LONG
        return data

    def _pump(self) -> None:
        try:
            while True:
                data = self._read()
                asyncio.run_coroutine_threadsafe(self.queue.put(data), self._loop).result()
                if not data:
                    return
        except Exception as exc:  # the loop is gone (the run ended), or stdin failed
            try:
                asyncio.run_coroutine_threadsafe(self.queue.put(exc), self._loop)
            except RuntimeError:
                pass


async def run_batch(conn: Any, stdin: IO[bytes], emit: Callable[[dict[str, Any]], None], *, parallel: int,
                    fail_fast: bool, timeout: float, metadata: dict[str, str]) -> Counter:
    """Run every call ``stdin`` lists on ``conn`` and ``emit`` each result in input order.

    Returns how many results had each status (``ok``, ``error``, ``invalid``, ``cancelled``).
    """
    from .errors import error_data

    loop = asyncio.get_running_loop()
    lines = _Lines(stdin, loop)
    slots = asyncio.Semaphore(parallel)
    window = asyncio.Semaphore(WINDOW)
    order: asyncio.Queue = asyncio.Queue()  # (request head, task or finished result), then None
    stop = asyncio.Event()
    running: set[asyncio.Task] = set()
    schemas: dict[str, asyncio.Task] = {}
    warned: set[str] = set()
    counts: Counter = Counter()

    def halt() -> None:
        if fail_fast and not stop.is_set():
            stop.set()
            for task in running:
                if task is not asyncio.current_task():
                    task.cancel()

    async def schema_of(service: str) -> None:
        base = service.partition("@")[0]
        if base not in schemas:
            from .registry import SCHEMA_TIMEOUT

            schemas[base] = loop.create_task(conn.load_schemas([base], timeout=min(SCHEMA_TIMEOUT, timeout)))
        await asyncio.shield(schemas[base])
        svc = next((s for s in conn.services if s.name == base), None)
        if svc is not None and not svc.has_schema and base not in warned:
            from aster_core.output import warn

            from .registry import fallback_note

            warned.add(base)
            warn(fallback_note(conn, svc))

    async def one(request: Request) -> dict[str, Any]:
        head = _head(request.line, request.tag, request.method)
        try:
            await schema_of(request.service)
            result = await conn.call(request.service, request.name, request.args, items=request.items,
                                     timeout=timeout, metadata=request.metadata or None)
            return {**head, "status": "ok", "result": result}
        except AsterError as exc:
            halt()
            return {**head, "status": "error", "error": error_data(exc)}
        except Exception as exc:  # one call's surprise is that call's result, not the end of the batch
            halt()
            return {**head, "status": "error", "error": error_data(AsterError(f"the call failed: {exc!r}"))}
        finally:
            slots.release()

    async def read() -> None:
        number = results = 0
        try:
            while not stop.is_set():
                raw = await lines.queue.get()
                if isinstance(raw, Exception):
                    raise UsageError(f"cannot read stdin: {raw}", "Pipe the JSON lines into aster call --batch.")
                if not raw:
                    return
                number += 1
                if raw is not _TOO_LONG and not raw.strip():
                    continue
                await window.acquire()
                if results >= MAX_LINES:
                    error = UsageError(f"more than {MAX_LINES} lines: this one and the rest were not read",
                                       "Split the input into several runs.")
                    order.put_nowait((None, _invalid(number, error)))
                    return
                results += 1
                try:
                    request = parse_line(raw, number, metadata)
                except UsageError as exc:
                    order.put_nowait((None, _invalid(number, exc)))
                    halt()
                    continue
                try:
                    await slots.acquire()
                except BaseException:
                    window.release()
                    raise
                if stop.is_set():  # a failure came while this line waited for a slot: it never ran
                    slots.release()
                    order.put_nowait((_head(request.line, request.tag, request.method), None))
                    return
                task = loop.create_task(one(request))
                running.add(task)
                task.add_done_callback(running.discard)
                order.put_nowait((_head(request.line, request.tag, request.method), task))
        finally:
            order.put_nowait(None)

    async def write() -> None:
        while True:
            entry = await order.get()
            if entry is None:
                return
            head, outcome = entry
            if isinstance(outcome, asyncio.Task):
                await asyncio.wait({outcome})
                outcome = None if outcome.cancelled() else outcome.result()
            result = outcome if outcome is not None else {**head, "status": "cancelled"}
            counts[result["status"]] += 1
            emit(result)
            window.release()

    reader = loop.create_task(read())
    writer = loop.create_task(write())
    stopped = loop.create_task(stop.wait())
    try:
        await asyncio.wait({reader, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set() and not reader.done():
            reader.cancel()  # it may wait on a silent stdin: a failure ends the run now
        await asyncio.wait({reader})
        await writer
        if not reader.cancelled() and reader.exception() is not None:
            raise reader.exception()  # type: ignore[misc]
    finally:
        stopped.cancel()
        for task in (reader, writer, *running, *schemas.values()):
            task.cancel()
    return counts


def emit_line(result: dict[str, Any]) -> None:
    """Write one result as a compact JSON line, flushed, so a script reads results as they come."""
    from aster_core.output import to_json

    sys.stdout.write(to_json(result, indent=None) + "\n")
    sys.stdout.flush()


def exit_code(counts: Counter) -> int:
    """0 when every call succeeded (or there were none), 1 when any failed, was invalid or was cancelled."""
    return 0 if not (counts["error"] or counts["invalid"] or counts["cancelled"]) else 1

