"""``tools/list`` answered from the peer's catalogue before the MCP SDK is imported.

An agent's first useful answer is ``tools/list``. It needs the runtime (to dial the
peer and read its manifests) but not the SDK, whose import (in a thread, see
:mod:`aster_mcp.sdkimport`) often ends later. So on stdio, once
:mod:`aster_mcp.handshake` has answered ``initialize``, :func:`answer_until_sdk`
watches the lines that follow until the SDK is imported and the catalogue read: it lets
``notifications/initialized`` pass and answers a plain ``tools/list`` itself with the
bytes the SDK would send (see :func:`list_answer`); the first line of any other kind
hands everything over to the SDK. The SDK then sees every line in order; its own answer to
each ``tools/list`` answered here is dropped after comparison, and when it differs
(the catalogue grew in between) the client gets ``notifications/tools/list_changed``
instead, so it lists again.

What the SDK sends for ``tools/list`` in the handshake era (every protocol version
before 2026-07-28 shares one wire form): the result holds only ``tools``, each tool's
members in the order its wire model declares them (alphabetical), the annotations'
likewise, and each schema's declared members (``$schema``, ``properties``,
``required``, ``type``) before the others in their own order, members that are null
left out at those levels only. A value whose JSON text Python and the SDK (pydantic)
write differently (floats in exponent notation with a negative exponent, NaN,
infinities, text that is not valid Unicode) makes this module leave the request to the
SDK. ``tests/mcp/test_listing.py`` compares with the SDK for real catalogues.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from typing import TYPE_CHECKING, Any

from .handshake import EarlyStdio, refuse_constant, text_is_clean, usable_id
from .sdkimport import sdk_imported, start_sdk_import

if TYPE_CHECKING:
    from .catalog import Catalog, ToolSpec
    from .peer import PeerLink

log = logging.getLogger("aster_mcp")

#: the members of a tool, of its annotations and (first) of its schemas, in the SDK's order
TOOL_MEMBERS = ("_meta", "annotations", "description", "execution", "icons", "inputSchema", "name",
                "outputSchema", "title")
ANNOTATION_MEMBERS = ("destructiveHint", "idempotentHint", "openWorldHint", "readOnlyHint", "title")
SCHEMA_MEMBERS = ("$schema", "properties", "required", "type")
LIST_CHANGED = '{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}'
_INITIALIZED = "notifications/initialized"


def tool_wire(tool: ToolSpec) -> dict[str, Any]:
    """One tool as MCP describes it (wire names): what ``tools/list`` offers, here and through the SDK."""
    return {"name": tool.name, "title": tool.name, "description": tool.description,
            "inputSchema": tool.input_schema, "outputSchema": tool.output_schema,
            "annotations": {"title": tool.name, "idempotentHint": bool(tool.method.get("idempotent")),
                            "openWorldHint": False}}


def _ordered(members: dict[str, Any], order: tuple[str, ...], *, others: bool) -> dict[str, Any]:
    out = {key: members[key] for key in order if members.get(key) is not None}
    if others:
        out.update((key, value) for key, value in members.items() if key not in out and value is not None)
    return out


def _schema(schema: Any) -> dict[str, Any] | None:
    """A tool schema in the SDK's wire form; None when the SDK would refuse it."""
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return None
    properties, required = schema.get("properties"), schema.get("required")
    if properties is not None and not (isinstance(properties, dict) and
                                       all(isinstance(v, (dict, bool)) for v in properties.values())):
        return None
    if required is not None and not (isinstance(required, list) and all(isinstance(r, str) for r in required)):
        return None
    if not isinstance(schema.get("$schema"), (str, type(None))):
        return None
    return _ordered(schema, SCHEMA_MEMBERS, others=True)


def handshake_era_tool(wire: dict[str, Any]) -> dict[str, Any] | None:
    """:func:`tool_wire`'s tool as the SDK writes it for a handshake-era session; None if unsure."""
    inputs, outputs = _schema(wire["inputSchema"]), _schema(wire["outputSchema"])
    if inputs is None or (wire.get("outputSchema") is not None and outputs is None):
        return None
    if set(wire) - set(TOOL_MEMBERS) or set(wire["annotations"]) - set(ANNOTATION_MEMBERS):
        return None
    return _ordered({**wire, "inputSchema": inputs, "outputSchema": outputs,
                     "annotations": _ordered(wire["annotations"], ANNOTATION_MEMBERS, others=False)},
                    TOOL_MEMBERS, others=False)


def _same_text(value: Any) -> bool:
    """Whether Python's JSON text of ``value`` is the SDK's (see the module docstring)."""
    if isinstance(value, str):
        return text_is_clean(value)
    if isinstance(value, float):
        return math.isfinite(value) and "e-" not in repr(value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and text_is_clean(k) and _same_text(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_same_text(v) for v in value)
    return value is None or isinstance(value, (bool, int))


def list_answer(ident: Any, catalog: Catalog) -> str | None:
    """The SDK's response line to ``tools/list`` (request ``ident``, handshake era) for ``catalog``;
    None when this module cannot vouch for every byte."""
    tools = []
    for tool in catalog.tools.values():
        shaped = handshake_era_tool(tool_wire(tool))
        if shaped is None:
            return None
        tools.append(shaped)
    response = {"jsonrpc": "2.0", "id": ident, "result": {"tools": tools}}
    if not _same_text(response):
        return None
    return json.dumps(response, ensure_ascii=False, separators=(",", ":"))


def list_request(line: str) -> tuple[str, Any] | None:
    """``("list", id)`` for a plain ``tools/list`` request, ``("initialized", None)`` for
    ``notifications/initialized``; None for anything else (the SDK's to answer)."""
    text = line.strip()
    if not text.startswith("{") or ('"tools/list"' not in text and _INITIALIZED not in text):
        return None
    try:
        message = json.loads(text, parse_constant=refuse_constant)
    except (ValueError, RecursionError):
        return None
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0" or message.get("params", {}) != {}:
        return None
    if message.get("method") == _INITIALIZED and set(message) <= {"jsonrpc", "method", "params"}:
        return "initialized", None
    if message.get("method") == "tools/list" and set(message) <= {"jsonrpc", "id", "method", "params"} \
            and "id" in message and usable_id(message["id"]) and text_is_clean(message["id"]):
        return "list", message["id"]
    return None


async def answer_until_sdk(stdio: EarlyStdio, link: PeerLink) -> None:
    """Answer ``tools/list`` here (see the module docstring) until the SDK is imported; then return
    with every line still there for the SDK, from the first."""
    catalog = asyncio.ensure_future(link.catalog())
    catalog.add_done_callback(_retrieved)
    imported = asyncio.ensure_future(_catalog_then_sdk(catalog))
    try:
        await _answer(stdio, catalog, imported)
    finally:
        stdio.stop_watching()
        imported.cancel()
        catalog.cancel()  # only this wait for it: the dial goes on, and the SDK asks the link itself
    start_sdk_import()
    await sdk_imported()


async def _answer(stdio: EarlyStdio, catalog: asyncio.Future, imported: asyncio.Future) -> None:
    """The watching itself: returns when the SDK is ready or must take over."""
    index = 0
    while True:
        following = asyncio.ensure_future(stdio.seen_line(index))
        await asyncio.wait({following, imported}, return_when=asyncio.FIRST_COMPLETED)
        if not following.done():
            following.cancel()
            return  # the SDK is ready: it takes over
        line = following.result()
        index += 1
        if index == 1:
            if stdio.initialize_answered and line is not None:
                continue
            return  # initialize is the SDK's to answer: so is everything after it
        kind = list_request(line) if line is not None else None
        if kind is None:
            return
        if kind[0] == "initialized":
            continue
        try:
            answer = list_answer(kind[1], await asyncio.shield(catalog))
        except Exception:  # noqa: BLE001 - the SDK answers with the error, as it always has
            return
        if answer is None:
            return
        try:
            await stdio.answer_early(kind[1], answer, lambda theirs: LIST_CHANGED)
        except OSError:
            return  # the client went away: the SDK sees the end of input and stops
        log.info("answered tools/list (request %r) before the MCP SDK was imported", kind[1])


def _retrieved(catalog: asyncio.Future) -> None:
    if not catalog.cancelled():
        catalog.exception()  # retrieved here; the SDK reports the failure to the client


async def _catalog_then_sdk(catalog: asyncio.Future) -> None:
    """Wait for the catalogue (or its failure), then import the SDK (:mod:`aster_mcp.sdkimport`:
    not before, so it does not slow the dial and the manifests that ``tools/list`` waits for)."""
    await asyncio.wait({catalog})
    await sdk_imported()
