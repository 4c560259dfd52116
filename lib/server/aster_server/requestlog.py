"""The request log: one line per call, however the call ends, and the call being served.

    2026-12-07T10:00:00Z INFO aster_server.registry: PublicationService.publish peer=3f9a0c1d2e4b5a69 OK 12.3ms
    2026-12-07T10:00:01Z INFO aster_server.registry: ProfileService.join peer=3f9a0c1d2e4b5a69 DEADLINE_EXCEEDED 5001.2ms '...'

:class:`RequestLog` is a runtime interceptor (aster-rpc 0.1.2). The runtime tells interceptors
about a call's start (``on_request``), its answer (``on_response``) and an error it maps
(``on_error``), but not about every end: a handler still running at its deadline is abandoned
(the runtime writes DEADLINE_EXCEEDED itself), a call whose deadline passed before it started is
refused by the deadline interceptor, and a call whose connection closes is cancelled; none of
those reaches ``on_response`` or ``on_error``. So each call is also tied to the task that
serves its stream, and when that task ends with the call still unlogged, the line is written
then, with what the end was:

- ``DEADLINE_EXCEEDED`` when the call's deadline (or the runtime's own handler limit) passed;
- ``CANCELLED`` when the task was cancelled (the connection closed, or the server stopped);
- ``OK`` for a stream that sent responses and ended normally;
- ``ENDED`` when none of these explains it (an interceptor after this one refused the call, or
  the request never arrived).

The interceptor must come first in the server's list, so it sees calls the deadline
interceptor refuses (:func:`aster_server.lifecycle.build_server` puts it there).

:data:`current_call` holds the runtime's ``CallContext`` of the call being handled; it is set
in the serving task before the handler runs, so the handler and work it offloads see it.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from dataclasses import dataclass
from typing import Any

from aster.interceptors.base import Interceptor

__all__ = ["RequestLog", "current_call"]

#: The call being served (set by :class:`RequestLog` before the handler runs, in the task that
#: serves it): ``current_call.get().peer`` is the caller's endpoint id.
current_call: contextvars.ContextVar[Any] = contextvars.ContextVar("aster_server_call", default=None)

#: a deadline counts as passed this close to it (the runtime's timer and the wall clock differ)
_DEADLINE_SLACK_S = 0.05


def _handler_limit() -> float:
    """The runtime's longest handler run, whatever the deadline (a deadline of its own)."""
    try:
        from aster.limits import MAX_HANDLER_TIMEOUT_S
    except ImportError:  # pragma: no cover - every aster-rpc 0.1.x has it
        return float("inf")
    return float(MAX_HANDLER_TIMEOUT_S)


@dataclass
class _Call:
    """A call whose line is not written yet."""

    ctx: Any
    started: float  # monotonic
    responses: int = 0
    #: the handler was given the request (the runtime's second pass reached this interceptor)
    handled: bool = False


class RequestLog(Interceptor):
    """One log line per call to the logger ``aster_server.<server_name>`` (see the module)."""

    def __init__(self, server_name: str) -> None:
        self.log = logging.getLogger(f"aster_server.{server_name}")
        self._limit = _handler_limit()
        #: the unlogged call of each serving task (a task serves one call at a time)
        self._open: dict[asyncio.Task[Any], _Call] = {}
        #: calls seen since start (aster_server.memory watches it for the end of a load)
        self.calls = 0

    @property
    def in_flight(self) -> int:
        """Calls whose line is not written yet."""
        return len(self._open)

    # ------------------------------------------------------------------ the runtime's hooks

    async def on_request(self, ctx: Any, request: object) -> object:
        current_call.set(ctx)
        task = asyncio.current_task()  # the task serving this call's stream (hooks run in it)
        assert task is not None
        call = self._open.get(task)
        if call is not None and request is not None and (call.ctx.service, call.ctx.method) == (ctx.service, ctx.method):
            # the runtime passes each call twice: first with no request (before reading it, to
            # let interceptors refuse early), then with the request; one call, one line
            call.ctx = ctx
            call.handled = True
            return request
        if call is not None:  # a session's next call: the previous one ended unseen
            self._close(task, call, "ENDED", "no status reached the log")
        call = _Call(ctx, time.monotonic(), handled=request is not None)
        self.calls += 1
        self._open[task] = call
        task.add_done_callback(self._task_done)
        return request

    async def on_response(self, ctx: Any, response: object) -> object:
        task = asyncio.current_task()
        call = self._open.get(task)  # type: ignore[arg-type]
        if call is None:
            return response
        if (getattr(ctx, "pattern", None) or "unary") in ("unary", "client_stream"):
            self._close(task, call, "OK")
        else:  # a stream answers many times; its line is written when it ends
            call.responses += 1
        return response

    async def on_error(self, ctx: Any, error: Any) -> Any:
        task = asyncio.current_task()
        call = self._open.get(task)  # type: ignore[arg-type]
        message = (getattr(error, "message", "") or "").replace("\n", " ")[:200]
        status = getattr(getattr(error, "code", None), "name", "ERROR")
        if call is not None:
            self._close(task, call, status, repr(message) if message else "")
        return error

    # ------------------------------------------------------------------ ends the hooks miss

    def _task_done(self, task: "asyncio.Task[Any]") -> None:
        call = self._open.pop(task, None)
        if call is None:
            return
        status, detail = self._how_it_ended(task, call)
        self._write(call, status, detail)

    def _how_it_ended(self, task: "asyncio.Task[Any]", call: _Call) -> tuple[str, str]:
        deadline = getattr(call.ctx, "deadline", None)
        elapsed = time.monotonic() - call.started
        if (deadline is not None and time.time() + _DEADLINE_SLACK_S >= deadline) or elapsed >= self._limit:
            when = "before the handler answered" if call.handled else "before the server started on it"
            return "DEADLINE_EXCEEDED", repr(f"the deadline passed {when}")
        if task.cancelled():
            return "CANCELLED", repr("cancelled before an answer (the connection closed, or the server stopped)")
        failure = task.exception()
        if failure is not None:
            return "INTERNAL", repr(f"the stream failed: {type(failure).__name__}")
        if call.responses:
            return "OK", f"{call.responses} responses"
        return "ENDED", repr("no status reached the log (refused before the handler, or no request arrived)")

    # ------------------------------------------------------------------ writing

    def _close(self, task: "asyncio.Task[Any] | None", call: _Call, status: str, detail: str = "") -> None:
        if task is not None and self._open.get(task) is call:
            del self._open[task]
            task.remove_done_callback(self._task_done)
        self._write(call, status, detail)

    def _write(self, call: _Call, status: str, detail: str = "") -> None:
        ctx = call.ctx
        ms = (time.monotonic() - call.started) * 1000
        peer = (getattr(ctx, "peer", None) or "-")[:16]
        self.log.info("%s.%s peer=%s %s %.1fms%s", ctx.service, ctx.method, peer, status, ms,
                      f" {detail}" if detail else "")
