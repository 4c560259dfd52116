"""The request layer: what every handler of both servers stands on, written once.

A handler parses its request, runs one store operation off the event loop and wraps the
result in its wire type; this module holds everything in between::

    from aster_server.request import Page, Refused, caller, offload

    @rpc
    async def list_plans(self, req: ListPlans) -> Reply:
        who = caller()                                    # UNAUTHENTICATED without an endpoint id
        page = Page.of(req.limit, req.offset, MAX_LIMIT)  # MAX_LIMIT: declared once in the wire module
        rows = await offload(store.list_plans, who, page) # worker thread; every error mapped here
        return Reply(json=json.dumps(rows))

API
---
``Caller(endpoint_id, attributes, name)``
    Who is calling: the connection's endpoint id (lower-case hex), the admission attributes of
    the credential it presented (empty when it presented none) and ``attributes["aster.name"]``
    (``""`` when absent).
``caller() -> Caller``
    Read from :data:`aster_server.requestlog.current_call`. Raises ``RpcError(UNAUTHENTICATED)``
    when the connection proves no endpoint id. Works in the handler and in work :func:`offload`
    runs (the worker thread gets a copy of the call's context).
``await offload(fn, *args, **kwargs)``
    ``fn(*args, **kwargs)`` in a worker thread. A call whose deadline has already passed is
    answered DEADLINE_EXCEEDED without starting ``fn``; a deadline passing while ``fn`` runs
    answers DEADLINE_EXCEEDED at once (the thread still finishes its transaction: the outcome is
    unknown to the client, as with any RPC deadline). Any exception is mapped by :func:`rpc_error`.
``remaining() -> float | None``
    Seconds left before the current call's deadline (``None``: no deadline, or no call).
``Refused(status, message, hint=None, field=None)``
    The one refusal type. ``status`` is any ``aster.StatusCode`` member (or its name);
    ``field`` names the input at fault. It is an ``AsterError`` whose exit code follows the
    status, so a store used outside a server (``aster registry status``, tests) fails cleanly.
``rpc_error(exc) -> RpcError``
    The one mapping from an exception to what the client sees:

    - :class:`Refused`: its status;
    - ``RpcError``: unchanged;
    - ``aster_core.errors.AsterError``: the status its ``rpc_status`` attribute names if it has
      one, else by exit code (:data:`EXIT_STATUS`: usage -> INVALID_ARGUMENT, not found ->
      NOT_FOUND, denied -> PERMISSION_DENIED, unavailable -> UNAVAILABLE, interrupted ->
      CANCELLED, anything else -> FAILED_PRECONDITION); its ``hint`` and ``field`` attributes
      are kept;
    - a database error a fresh attempt may not hit (SQLite busy, PostgreSQL deadlock or
      serialization failure, a dropped connection): UNAVAILABLE, "retry";
    - anything else: INTERNAL with a generic message; the traceback goes to the server log.
``error_text(message, hint=None, field=None) -> str`` and ``HINT_SEP``
    The text an error carries (the runtime sends a status and one string, no details):
    ``[<field>: ]<message>[HINT_SEP<hint>]``, ``HINT_SEP`` being ``"\\nHint: "``. Clients split
    the text at ``HINT_SEP`` to show the server's hint (the registry client, the authority
    client); a client that does not (aster-cli 0.1.2) prints it as it is.
``json_field(text, field, *, max_bytes, max_depth=None)``
    A JSON document a request carries (a payload, a manifest) parsed within the one set of JSON
    limits (:func:`aster_core.jsonlimits.loads_limited`: size, then nesting depth before the
    parser runs, then syntax); anything else is ``Refused(INVALID_ARGUMENT)`` naming ``field``,
    never a ``RecursionError`` in the server's log.
``Page(limit, offset)``, ``Page.of(limit, offset, maximum, default=None)``, ``clamp_limit``
    Paging by offset, one shape for both servers. A limit of 0 or ``None`` means ``default``
    (``maximum`` when none is given), one above ``maximum`` is clamped to it; a negative or
    non-integer limit or offset is INVALID_ARGUMENT naming the field. Read ``page.fetch``
    rows (one more than the limit) and ``page.cut(rows)`` returns ``(rows[:limit],
    next_offset)``, ``next_offset`` being ``None`` on the last page; with a known total,
    ``page.next_offset(total)`` says the same.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence, TypeVar

from aster import RpcError, StatusCode

from aster_core.errors import AsterError, ExitCode

from .requestlog import current_call

T = TypeVar("T")

LOG = logging.getLogger("aster_server.request")

#: What separates an error's message from its hint in the text a client receives.
HINT_SEP = "\nHint: "

#: An ``AsterError``'s exit code -> the status a client sees (codes not listed: FAILED_PRECONDITION,
#: an expected failure: the operation is refused in the current state).
EXIT_STATUS: dict[int, StatusCode] = {
    ExitCode.USAGE: StatusCode.INVALID_ARGUMENT,
    ExitCode.NOT_FOUND: StatusCode.NOT_FOUND,
    ExitCode.DENIED: StatusCode.PERMISSION_DENIED,
    ExitCode.UNAVAILABLE: StatusCode.UNAVAILABLE,
    ExitCode.INTERRUPTED: StatusCode.CANCELLED,
}

#: A status -> the exit code of a :class:`Refused` that reaches a command line (the same
#: grouping the clients use: aster_connect.errors).
STATUS_EXIT: dict[StatusCode, int] = {
    StatusCode.INVALID_ARGUMENT: ExitCode.USAGE,
    StatusCode.OUT_OF_RANGE: ExitCode.USAGE,
    StatusCode.CONTRACT_VIOLATION: ExitCode.USAGE,
    StatusCode.NOT_FOUND: ExitCode.NOT_FOUND,
    StatusCode.UNIMPLEMENTED: ExitCode.NOT_FOUND,
    StatusCode.PERMISSION_DENIED: ExitCode.DENIED,
    StatusCode.UNAUTHENTICATED: ExitCode.DENIED,
    StatusCode.UNAVAILABLE: ExitCode.UNAVAILABLE,
    StatusCode.DEADLINE_EXCEEDED: ExitCode.UNAVAILABLE,
    StatusCode.CANCELLED: ExitCode.INTERRUPTED,
}

#: Largest offset a page may start at (a deeper offset is refused, not scanned).
MAX_OFFSET = 1_000_000


def status_code(status: StatusCode | str) -> StatusCode:
    """``status`` as a ``StatusCode`` (a member, or a member's name); ``ValueError`` otherwise."""
    if isinstance(status, StatusCode):
        return status
    try:
        return StatusCode[status]
    except KeyError:
        raise ValueError(f"{status!r} is not an aster.StatusCode name") from None


# ---------------------------------------------------------------------------- refusals


class Refused(AsterError):
    """A request refused with ``status`` (any ``aster.StatusCode``), a message for the user, and
    optionally a hint (what to do) and the input ``field`` at fault."""

    def __init__(self, status: StatusCode | str, message: str, hint: str | None = None,
                 field: str | None = None) -> None:
        code = status_code(status)
        super().__init__(message, hint, exit_code=STATUS_EXIT.get(code, ExitCode.FAILED))
        self.status = code
        self.field = field

    @property
    def text(self) -> str:
        """The error text the client receives (see :func:`error_text`)."""
        return error_text(self.message, self.hint, self.field)

    def __repr__(self) -> str:
        return f"Refused({self.status.name}, {self.message!r}, hint={self.hint!r}, field={self.field!r})"


def error_text(message: str, hint: str | None = None, field: str | None = None) -> str:
    """``[<field>: ]<message>[HINT_SEP<hint>]``; the field is not repeated when the message
    already starts with it ("limit: ..." or "limit must ...")."""
    text = message
    if field and not message.startswith((f"{field}:", f"{field} ")):
        text = f"{field}: {message}"
    return text + (HINT_SEP + hint if hint else "")


def _database_transient(exc: BaseException) -> bool:
    if not type(exc).__module__.startswith("sqlalchemy"):
        return False
    from .storage import is_transient

    return is_transient(exc)


def rpc_error(exc: BaseException) -> RpcError:
    """The ``RpcError`` a client sees for ``exc`` (see the module's docstring for the rules)."""
    if isinstance(exc, RpcError):
        return exc
    if isinstance(exc, Refused):
        return RpcError(exc.status, exc.text)
    if isinstance(exc, AsterError):
        named = getattr(exc, "rpc_status", None)
        status = status_code(named) if named else EXIT_STATUS.get(exc.exit_code, StatusCode.FAILED_PRECONDITION)
        return RpcError(status, error_text(exc.message, exc.hint, getattr(exc, "field", None)))
    if _database_transient(exc):
        LOG.warning("database busy in %s: %s", _where(), str(getattr(exc, "orig", None) or exc).splitlines()[0])
        return RpcError(StatusCode.UNAVAILABLE, error_text("the server's database is busy",
                                                           "retry in a moment"))
    LOG.error("internal error in %s", _where(), exc_info=(type(exc), exc, exc.__traceback__))
    return RpcError(StatusCode.INTERNAL, f"internal error ({type(exc).__name__}); see the server log")


def _where() -> str:
    ctx = current_call.get()
    if ctx is None:
        return "a request"
    return f"{getattr(ctx, 'service', '?')}.{getattr(ctx, 'method', '?')}"


# ---------------------------------------------------------------------------- JSON fields


def json_field(text: Any, field: str, *, max_bytes: int, max_depth: int | None = None) -> Any:
    """The JSON document a request carries in ``field``, parsed within the limits of
    :func:`aster_core.jsonlimits.loads_limited` (at most ``max_bytes``, nested at most
    ``max_depth`` levels, default its ``MAX_DEPTH``); anything else, deep nesting and bad
    syntax included, is ``Refused(INVALID_ARGUMENT)`` naming ``field``."""
    from aster_core.jsonlimits import MAX_DEPTH, loads_limited

    depth = MAX_DEPTH if max_depth is None else max_depth
    try:
        return loads_limited(text, field=field, max_bytes=max_bytes, max_depth=depth,
                             hint=f"send {field} as JSON of at most {max_bytes} bytes, nested at most {depth} levels")
    except AsterError as exc:
        raise Refused(StatusCode.INVALID_ARGUMENT, exc.message, exc.hint, field=field) from None


# ---------------------------------------------------------------------------- the caller


@dataclass(frozen=True)
class Caller:
    """Who is calling: endpoint id (lower-case), admission attributes, ``aster.name``."""

    endpoint_id: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    name: str = ""


def caller() -> Caller:
    """The caller of the request being handled; ``RpcError(UNAUTHENTICATED)`` when the
    connection proves no endpoint id."""
    ctx = current_call.get()
    peer = getattr(ctx, "peer", None) if ctx is not None else None
    if not peer:
        raise RpcError(StatusCode.UNAUTHENTICATED,
                       error_text("the connection proves no endpoint id", "connect over an aster connection"))
    attributes = dict(getattr(ctx, "attributes", None) or {})
    return Caller(str(peer).lower(), attributes, attributes.get("aster.name", ""))


# ---------------------------------------------------------------------------- offloading


def remaining() -> float | None:
    """Seconds left before the current call's deadline; ``None`` when it has none."""
    ctx = current_call.get()
    deadline = getattr(ctx, "deadline", None) if ctx is not None else None
    if deadline is None:
        return None
    import time

    return deadline - time.time()


async def offload(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in a worker thread, within the call's deadline; every exception
    becomes the ``RpcError`` of :func:`rpc_error`.

    Built on the loop's executor future itself (no task wrapping ``asyncio.to_thread``, no
    ``asyncio.wait``): every request of both servers comes through here, and those two layers
    cost about 55 us of the 135 us a trip to a worker thread took."""
    left = remaining()
    if left is not None and left <= 0:
        raise RpcError(StatusCode.DEADLINE_EXCEEDED, "the call's deadline passed before the server started on it")
    loop = asyncio.get_running_loop()
    # the worker sees the call's context (caller(), remaining()), as asyncio.to_thread gives it
    future = loop.run_in_executor(None, functools.partial(contextvars.copy_context().run, fn, *args, **kwargs))
    expired: list[bool] = []

    def expire() -> None:  # the deadline: answered now; work already running still finishes
        expired.append(True)
        future.cancel()

    timer = loop.call_later(left, expire) if left is not None else None
    try:
        return await future
    except asyncio.CancelledError:
        if not expired:  # the runtime gave the handler up (its deadline, a closed connection)
            raise
        raise RpcError(StatusCode.DEADLINE_EXCEEDED,
                       error_text("the call's deadline passed while the server worked on it",
                                  "its outcome is unknown: check, then retry with a longer timeout")) from None
    except Exception as exc:  # noqa: BLE001 - the one place errors are mapped
        raise rpc_error(exc) from None
    finally:
        if timer is not None:
            timer.cancel()


# ---------------------------------------------------------------------------- paging


def _whole(value: Any, name: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Refused(StatusCode.INVALID_ARGUMENT, f"{value!r} is not a non-negative integer",
                      f"pass {name} as 0 or more", field=name)
    return value


def clamp_limit(limit: Any, maximum: int, default: int | None = None) -> int:
    """``limit`` within ``1..maximum``: 0 or ``None`` -> ``default`` (or ``maximum``), more than
    ``maximum`` -> ``maximum``; negative or not an integer: INVALID_ARGUMENT."""
    requested = _whole(limit, "limit")
    if requested == 0:
        requested = default or maximum
    return min(requested, maximum)


@dataclass(frozen=True)
class Page:
    """One page of a list: at most ``limit`` rows starting at row ``offset``."""

    limit: int
    offset: int = 0

    @classmethod
    def of(cls, limit: Any, offset: Any, maximum: int, default: int | None = None, *,
           max_offset: int = MAX_OFFSET) -> "Page":
        start = _whole(offset, "offset")
        if start > max_offset:
            raise Refused(StatusCode.INVALID_ARGUMENT, f"{start} is past the last offset served ({max_offset})",
                          "narrow the query instead of paging this deep", field="offset")
        return cls(clamp_limit(limit, maximum, default), start)

    @property
    def fetch(self) -> int:
        """Rows to read: one more than the limit tells whether another page follows."""
        return self.limit + 1

    def cut(self, rows: Sequence[T]) -> tuple[list[T], int | None]:
        """``(the page's rows, next offset or None)`` from at most :attr:`fetch` rows read."""
        more = len(rows) > self.limit
        return list(rows[:self.limit]), (self.offset + self.limit if more else None)

    def next_offset(self, total: int) -> int | None:
        """The next page's offset given the total row count, ``None`` on the last page."""
        following = self.offset + self.limit
        return following if following < total else None


__all__ = ["Caller", "EXIT_STATUS", "HINT_SEP", "MAX_OFFSET", "Page", "Refused", "STATUS_EXIT", "caller",
           "clamp_limit", "error_text", "json_field", "offload", "remaining", "rpc_error", "status_code"]
