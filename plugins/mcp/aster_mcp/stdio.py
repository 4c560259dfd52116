"""stdio for ``aster mcp``: every message that carries an id gets an answer.

The SDK's stdio transport hands a line it cannot validate to the server as an
exception, and the server only logs it, so a client that sent ``params`` as a
string, ``"jsonrpc": "1.0"``, a batch array, a numeric ``method`` or arguments
nested past pydantic's 200 levels waits forever. (Over HTTP the SDK answers
the same bodies with -32700/-32600.) Here each line is screened first, with
the same validation the SDK applies: a line it would accept goes on to it
unchanged; for one it would reject, an error response goes straight back:

- ``-32700`` (parse error): not JSON; the id is recovered when the text up to
  it is intact (``{"id": 7, "method": ...`` cut short);
- ``-32600`` (invalid request): JSON, but not a JSON-RPC 2.0 message the SDK
  takes (the message says what is wrong); each element of a batch that has an
  id gets its own answer (MCP has no batches since 2025-06-18).

An id that is not a string or integer is answered with ``"id": null`` (JSON-RPC
2.0's "could not be determined"); a message with no id at all (a
notification) gets nothing, as JSON-RPC says.

The protocol's descriptors are claimed as the SDK's transport claims them, but
earlier, by :class:`aster_mcp.handshake.EarlyStdio` (which also answers
``initialize`` before the SDK is imported): fd 0 is read only from a private
duplicate (fd 0 itself then reads the null device), and fd 1 writes to stderr.
"""

from __future__ import annotations

import json
import re
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from .handshake import EarlyStdio

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
_MISSING = object()
_WS = re.compile(r"[ \t\n\r]*")
_SCALAR = re.compile(r'-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?|true|false|null')


def _skip(text: str, i: int) -> int:
    """The index just past the JSON value starting at ``i`` (no recursion; ValueError if malformed)."""
    char = text[i]
    if char == '"':
        return json.decoder.scanstring(text, i + 1)[1]
    if char in "[{":
        depth, n = 0, len(text)
        while i < n:
            char = text[i]
            if char == '"':
                i = json.decoder.scanstring(text, i + 1)[1]
                continue
            if char in "[{":
                depth += 1
            elif char in "]}":
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
        raise ValueError("unterminated value")
    match = _SCALAR.match(text, i)
    if not match:
        raise ValueError("not a value")
    return match.end()


def top_level_id(text: str) -> Any:
    """The ``id`` member of the JSON object ``text`` starts with, read without parsing the rest.

    Works on text Python's JSON reader cannot take (nested too deep, cut short
    after the id); :data:`_MISSING` when there is no id to be found.
    """
    try:
        i = _WS.match(text, 0).end()
        if text[i] != "{":
            return _MISSING
        i += 1
        while True:
            i = _WS.match(text, i).end()
            if text[i] != '"':
                return _MISSING
            key, i = json.decoder.scanstring(text, i + 1)
            i = _WS.match(text, i).end()
            if text[i] != ":":
                return _MISSING
            i = _WS.match(text, i + 1).end()
            if key == "id":
                end = _skip(text, i)
                try:
                    return json.loads(text[i:end])
                except (ValueError, RecursionError):
                    return None  # there is an id, of no usable kind
            i = _WS.match(text, _skip(text, i)).end()
            if text[i] != ",":
                return _MISSING
            i += 1
    except (IndexError, ValueError):
        return _MISSING


def _answerable(value: Any) -> Any:
    """An id as it can be echoed: strings and integers as they are, anything else null."""
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    return None


def _problem(message: Any, validation: Exception | None) -> str:
    if not isinstance(message, dict):
        return f"a JSON-RPC message is an object, not {type(message).__name__}"
    if message.get("jsonrpc") != "2.0":
        return 'jsonrpc must be "2.0"'
    if "method" in message and not isinstance(message["method"], str):
        return "method must be a string"
    if "params" in message and not isinstance(message["params"], (dict, type(None))):
        return "params must be an object"
    if "id" in message and _answerable(message["id"]) is None:
        return "id must be a string or an integer"
    errors = getattr(validation, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
            if first.get("type") == "recursion_loop" or "recursion" in str(first.get("msg", "")).lower():
                return "the message is nested too deeply (at most 200 levels)"
            return f"not a valid JSON-RPC 2.0 message ({first.get('msg', 'invalid')})"
        except (IndexError, TypeError, AttributeError):
            pass
    return "not a valid JSON-RPC 2.0 message"


def screen(line: str) -> tuple[bool, list[dict[str, Any]]]:
    """``(pass it to the SDK, error responses to send back)`` for one line read from stdin."""
    import mcp_types as types

    text = line.strip()
    if not text:
        return False, []
    try:
        parsed = types.jsonrpc_message_adapter.validate_json(text, by_name=False)
    except Exception as exc:  # noqa: BLE001 - whatever the SDK's validation raises, we answer instead
        validation: Exception | None = exc
    else:
        if isinstance(parsed, types.JSONRPCNotification) and '"id"' in text:
            # the SDK reads a request whose id is of no valid kind (8.5, true, {}) as a notification
            found = top_level_id(text)
            if found is not _MISSING:
                return False, [_error(None, INVALID_REQUEST, "id must be a string or an integer")]
        return True, []
    try:
        message = json.loads(text)
    except RecursionError:
        found = top_level_id(text)
        if found is _MISSING:
            return False, []
        return False, [_error(found, INVALID_REQUEST, "the message is nested too deeply (at most 200 levels)")]
    except ValueError as exc:
        found = top_level_id(text)
        if found is _MISSING:
            return False, []
        return False, [_error(found, PARSE_ERROR, f"parse error: {getattr(exc, 'msg', exc)}")]
    if isinstance(message, list):
        answers = [_error(item["id"], INVALID_REQUEST, "batches are not supported: send one message per line")
                   for item in message if isinstance(item, dict) and "id" in item]
        return False, answers
    if not isinstance(message, dict) or "id" not in message:
        return False, []
    if "method" not in message and ("result" in message or "error" in message):
        return False, []  # a malformed response of the client's: JSON-RPC answers no response
    return False, [_error(message["id"], INVALID_REQUEST, _problem(message, validation))]


def _error(request_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": _answerable(request_id), "error": {"code": code, "message": message}}


class _ScreenedLines:
    """The lines of the protocol's stdin the SDK may see; the others are answered here."""

    def __init__(self, source: Any) -> None:
        import anyio

        self._source = source
        self._write: Any = None
        self._ready = anyio.Event()

    def attach(self, write_stream: Any) -> None:
        self._write = write_stream
        self._ready.set()

    async def __aiter__(self) -> AsyncIterator[str]:
        import mcp_types as types
        from mcp.shared.message import SessionMessage

        async for line in self._source:
            forward, answers = screen(line)
            if forward:
                yield line
                continue
            if answers:
                await self._ready.wait()
            for answer in answers:
                await self._write.send(SessionMessage(types.jsonrpc_message_adapter.validate_python(answer)))


@asynccontextmanager
async def answering_stdio_server(early: EarlyStdio) -> AsyncIterator[tuple[Any, Any]]:
    """``mcp.server.stdio.stdio_server()`` over the already claimed ``early`` stdio, its stdin screened."""
    from mcp.server.stdio import stdio_server

    lines = _ScreenedLines(early.lines())
    try:
        async with stdio_server(stdin=lines, stdout=early) as (read_stream, write_stream):  # type: ignore[arg-type]
            lines.attach(write_stream)
            yield read_stream, write_stream
    finally:
        early.restore()
