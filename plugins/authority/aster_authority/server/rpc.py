"""What every handler of the authority shares: who is calling, running a store operation off
the event loop, and the reply or the error it becomes.

Errors are ``RpcError``s whose message is ``<what>\\nHint: <what to do>``: INVALID_ARGUMENT
(bad input, the message names the field), NOT_FOUND, PERMISSION_DENIED, and
FAILED_PRECONDITION for a refused transition.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Callable, NamedTuple, Optional

from aster import RpcError, StatusCode
from aster_core.errors import AsterError, ExitCode

from ..domain.plans import Actor
from ..wire import HINT_SEP, Reply

_STATUS = {ExitCode.USAGE: StatusCode.INVALID_ARGUMENT, ExitCode.NOT_FOUND: StatusCode.NOT_FOUND,
           ExitCode.DENIED: StatusCode.PERMISSION_DENIED}


class Caller(NamedTuple):
    """The connection's proven endpoint id (as an :class:`Actor`) and its credential's attributes."""

    actor: Actor
    attributes: dict[str, str]

    @property
    def roles(self) -> list[str]:
        return [r for r in self.attributes.get("aster.role", "").split(",") if r]


def caller() -> Caller:
    from aster_server.lifecycle import current_call

    ctx = current_call.get()
    if ctx is None or not ctx.peer:
        raise RpcError(StatusCode.UNAUTHENTICATED, "the connection proves no endpoint id")
    attributes = dict(ctx.attributes or {})
    return Caller(Actor(str(ctx.peer).lower(), attributes.get("aster.name", "")), attributes)


def json_arg(text: str, field_name: str) -> Any:
    """A request field holding a JSON document, decoded; bad JSON names the field."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise RpcError(StatusCode.INVALID_ARGUMENT, f"{field_name}: not JSON ({exc}){HINT_SEP}send a JSON document")


def json_args(texts: list[str], field_name: str) -> list[Any]:
    return [json_arg(text, f"{field_name}[{i}]") for i, text in enumerate(texts)]


def opt(value: str) -> Optional[str]:
    """An optional string field: the wire's empty string is "not given"."""
    return value or None


async def run(fn: Callable[..., Any], *args: Any, **kw: Any) -> Reply:
    """``fn(*args, **kw)`` in a worker thread; its document as the :class:`Reply`, its
    refusal as the ``RpcError`` of its exit code."""
    try:
        result = await asyncio.to_thread(fn, *args, **kw)
    except AsterError as exc:
        status = _STATUS.get(exc.exit_code, StatusCode.FAILED_PRECONDITION)
        raise RpcError(status, exc.message + (HINT_SEP + exc.hint if exc.hint else "")) from None
    return Reply(json=json.dumps(result, ensure_ascii=False))
