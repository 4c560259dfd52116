"""The body of `aster call`: connect, call once (or run a batch), print results as they arrive.

``-v`` lines go to stderr through :mod:`aster_connect.verbose`; stdout holds the results only.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any, Callable, NoReturn

from aster_core.errors import AsterError, UsageError
from aster_core.output import print_json, print_json_line, progress

from .client import Connection, connect, exit_now, run
from .schema import MethodInfo
from .trace import CallTrace

OPEN_GATE_NOTE = "Note: the peer admitted us without a credential: it admits every consumer (open gate)."


def _request_stream(info: MethodInfo | None, payload: Any, items: list | None,
                    stdin_items: Callable[[], Any]) -> tuple[Any, Any]:
    """(request, items) for the call, from the argument, --items or stdin."""
    streams_in = info.streams_requests if info is not None else (items is not None or isinstance(payload, list))
    if not streams_in:
        if items is not None:
            raise UsageError(f"{info.name if info else 'the method'} takes one request, not --items",
                             "Pass the request as a JSON object argument.")
        return payload, None
    if items is not None:
        return None, items
    if isinstance(payload, list):
        return None, payload
    if payload is not None:
        return None, [payload]
    if sys.stdin.isatty():
        print("Reading requests as JSON lines; end with Ctrl-D.", file=sys.stderr)
    return None, stdin_items()


async def _connect(address: str, *, rcan: str | None, timeout: float, schemas: list[str],
                   verbose: bool) -> Connection:
    """Connect, then read the named services' schemas, within ``timeout`` (timed apart for ``-v``)."""
    from .registry import SCHEMA_TIMEOUT

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    if verbose:
        from .verbose import dial_lines, say

        say(dial_lines(address))
    started = time.perf_counter()
    with progress(f"Connecting to {address[:24]}..."):
        conn = await connect(address, rcan=rcan, timeout=timeout, schemas=False)
        connected = time.perf_counter()
        if schemas:
            try:
                left = min(SCHEMA_TIMEOUT, max(deadline - loop.time(), 0.001))
                await conn.load_schemas(schemas, timeout=left)
            except BaseException:
                await conn.close()
                raise
    if verbose:
        from .verbose import connection_lines, say

        say(connection_lines(conn, connect_s=connected - started,
                             schema_s=time.perf_counter() - connected if schemas else None))
    return conn


async def _call(address: str, service: str, method: str, payload: Any, items: list | None, *,
                rcan: str | None, timeout: float, as_json: bool, stdin_items: Callable[[], Any],
                metadata: dict[str, str], verbose: bool, started: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout  # --timeout bounds the whole command, not each step
    conn = await _connect(address, rcan=rcan, timeout=timeout, schemas=[service.partition("@")[0]], verbose=verbose)
    timeout = max(deadline - loop.time(), 0.001)
    trace = CallTrace() if verbose else None
    try:
        await _call_on(conn, service, method, payload, items, timeout=timeout, as_json=as_json,
                       stdin_items=stdin_items, metadata=metadata, trace=trace)
    except BaseException as exc:
        if trace is not None and isinstance(exc, AsterError):
            from .verbose import call_lines, say

            say(call_lines(trace, started=started, failed=getattr(exc, "status", "failed")))
        await conn.close()
        raise
    if trace is not None:
        from .verbose import call_lines, say

        say(call_lines(trace, started=started))
    await conn.close_before_exit()


async def _call_on(conn: Connection, service: str, method: str, payload: Any, items: list | None, *,
                   timeout: float, as_json: bool, stdin_items: Callable[[], Any],
                   metadata: dict[str, str] | None = None, trace: CallTrace | None = None) -> None:
    if conn.open_gate and sys.stderr.isatty():
        print(OPEN_GATE_NOTE, file=sys.stderr)
    svc = conn.service(service)
    info = svc.method(method)
    if info is None:
        from aster_core.output import warn

        from .registry import fallback_note

        warn(fallback_note(conn, svc))
    request, stream = _request_stream(info, payload, items, stdin_items)
    if trace is not None:
        from .verbose import method_lines, say

        say(method_lines(conn, service, method, metadata or {}))
    streamed = info.streams_responses if info is not None else False
    results = conn.invoke(service, method, request, items=stream, timeout=timeout, metadata=metadata or None,
                          trace=trace)
    if streamed:
        async for item in results:
            print_json_line(item)
        return
    answers = [item async for item in results]
    answer: Any = answers[0] if len(answers) == 1 else answers
    if as_json:
        print_json(answer, indent=None)
    else:
        print_json(answer)


def run_call(address: str, service: str, method: str, payload: Any, items: list | None, *, rcan: str | None,
             timeout: float, as_json: bool, stdin_items: Callable[[], Any],
             metadata: dict[str, str] | None = None, verbose: bool = False) -> NoReturn:
    """Run one call, then end the process (exit 0, see :func:`exit_now`).

    Every failure is raised as an AsterError for the host to print.
    """
    started = time.perf_counter()
    run(_call(address, service, method, payload, items, rcan=rcan, timeout=timeout, as_json=as_json,
              stdin_items=stdin_items, metadata=metadata or {}, verbose=verbose, started=started))
    exit_now(0)


async def _batch(address: str, *, rcan: str | None, timeout: float, metadata: dict[str, str], parallel: int,
                 fail_fast: bool, verbose: bool) -> int:
    from .batch import emit_line, exit_code, run_batch

    started = time.perf_counter()
    conn = await _connect(address, rcan=rcan, timeout=timeout, schemas=[], verbose=verbose)
    if sys.stdin.isatty():
        print('Reading calls as JSON lines ({"method": "Svc.m", "args": {...}}); end with Ctrl-D.', file=sys.stderr)
    try:
        counts = await run_batch(conn, sys.stdin.buffer, emit_line, parallel=parallel, fail_fast=fail_fast,
                                 timeout=timeout, metadata=metadata)
    except BaseException:
        await conn.close()
        raise
    if verbose:
        from .verbose import batch_lines, say

        say(batch_lines(counts, started=started, parallel=parallel))
    await conn.close_before_exit()
    return exit_code(counts)


def run_batch_call(address: str, *, rcan: str | None, timeout: float, metadata: dict[str, str] | None = None,
                   parallel: int, fail_fast: bool, verbose: bool = False) -> NoReturn:
    """``aster call ADDRESS --batch``: every call stdin lists, over one connection (see
    :mod:`aster_connect.batch`); exit 0 when all succeeded, 1 when any did not."""
    exit_now(run(_batch(address, rcan=rcan, timeout=timeout, metadata=metadata or {}, parallel=parallel,
                        fail_fast=fail_fast, verbose=verbose)))
