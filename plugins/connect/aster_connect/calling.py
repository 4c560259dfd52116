"""The body of `aster call`: connect, call once, print results as they arrive."""

from __future__ import annotations

import asyncio
import sys
from typing import Any, Callable, NoReturn

from aster_core.errors import UsageError
from aster_core.output import print_json, print_json_line, progress

from .client import Connection, connect, exit_now, run
from .schema import MethodInfo

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


async def _call(address: str, service: str, method: str, payload: Any, items: list | None, *,
                rcan: str | None, timeout: float, as_json: bool, stdin_items: Callable[[], Any]) -> None:
    base = service.partition("@")[0]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout  # --timeout bounds the whole command, not each step
    with progress(f"Connecting to {address[:24]}..."):
        conn = await connect(address, rcan=rcan, timeout=timeout, schemas=[base])
    timeout = max(deadline - loop.time(), 0.001)
    try:
        await _call_on(conn, service, method, payload, items, timeout=timeout, as_json=as_json,
                       stdin_items=stdin_items)
    except BaseException:
        await conn.close()
        raise
    await conn.close_before_exit()


async def _call_on(conn: Connection, service: str, method: str, payload: Any, items: list | None, *,
                   timeout: float, as_json: bool, stdin_items: Callable[[], Any]) -> None:
    if conn.open_gate and sys.stderr.isatty():
        print(OPEN_GATE_NOTE, file=sys.stderr)
    svc = conn.service(service)
    info = svc.method(method)
    if info is None:
        from aster_core.output import warn

        from .registry import fallback_note

        warn(fallback_note(conn, svc))
    request, stream = _request_stream(info, payload, items, stdin_items)
    streamed = info.streams_responses if info is not None else False
    results = conn.invoke(service, method, request, items=stream, timeout=timeout)
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
             timeout: float, as_json: bool, stdin_items: Callable[[], Any]) -> NoReturn:
    """Run one call, then end the process (exit 0, see :func:`exit_now`).

    Every failure is raised as an AsterError for the host to print.
    """
    run(_call(address, service, method, payload, items, rcan=rcan, timeout=timeout, as_json=as_json,
              stdin_items=stdin_items))
    exit_now(0)

