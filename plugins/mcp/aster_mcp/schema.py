"""Published manifest method/field descriptors -> JSON Schema, the shape an agent sees.

Pure functions over the dicts of the runtime's ``ContractManifest.methods``
(see docs/file-formats.md, "Contract manifests"): each field carries ``kind`` (string, int, float,
bool, bytes, list, map, enum, ref), ``nullable``, ``required``,
``default_value``/``default_kind`` and, where they apply, ``ref_name``,
``enum_values``, ``item_kind``/``item_ref``/``item_nullable``,
``key_kind``/``value_kind``/``value_ref``/``value_nullable``.

A manifest describes only a method's top-level request and response fields; a
nested message (``kind: ref``) names its type and nothing more. aster_connect's
:class:`~aster_connect.types.TypeTable` (the one ``aster call`` checks requests
with) collects the fields of every request and response type the peer publishes,
so a nested message that is some method's request or response gets its full
schema; any other nested message is an open object.
"""

from __future__ import annotations

import ast
import base64
from typing import Any, Iterable, Mapping

from aster_connect.types import TypeTable

__all__ = ["TypeTable", "describe", "field_schema", "input_schema", "message_schema", "output_schema",
           "reserved_collisions", "response_schema"]

#: Tool-argument names this tool layer adds (never sent to the service).
MAX_ITEMS_ARG = "_max_items"
TIMEOUT_ARG = "_timeout"
ITEMS_ARG = "_items"
RESERVED_ARGS = (MAX_ITEMS_ARG, TIMEOUT_ARG, ITEMS_ARG)

DEFAULT_MAX_ITEMS = 100
MAX_ITEMS_CAP = 10_000
DEFAULT_TIMEOUT = 30.0
TIMEOUT_CAP = 3600.0

UNARY, SERVER_STREAM, CLIENT_STREAM, BIDI_STREAM = "unary", "server_stream", "client_stream", "bidi_stream"
PATTERN_TEXT = {
    UNARY: "unary",
    SERVER_STREAM: "server-streaming",
    CLIENT_STREAM: "client-streaming",
    BIDI_STREAM: "bidirectional-streaming",
}

_SCALARS: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "bytes": {"type": "string", "contentEncoding": "base64", "description": "bytes, base64-encoded"},
}
_MAX_DEPTH = 8


def _kind_schema(kind: str | None, ref: str | None, tag: str | None, enum_values: list | None, types: TypeTable,
                 path: tuple[str, ...], *, for_output: bool) -> dict[str, Any]:
    """The schema of one value of ``kind`` (no nullability, no default)."""
    if kind in _SCALARS:
        return dict(_SCALARS[kind])
    if kind == "enum":
        schema: dict[str, Any] = {}
        if enum_values:
            schema["enum"] = list(enum_values)
            kinds = {"integer" if isinstance(v, int) and not isinstance(v, bool) else "string" for v in enum_values}
            schema["type"] = kinds.pop() if len(kinds) == 1 else sorted(kinds)
        else:
            schema["type"] = ["string", "integer"]
        if ref:
            schema["description"] = f"{ref} enum"
        return schema
    if kind == "ref":
        return _ref_schema(ref, tag, types, path, for_output=for_output)
    if kind == "list":
        return {"type": "array"}
    if kind == "map":
        return {"type": "object"}
    # An unknown (or unrecorded) kind: accept any JSON value rather than guess.
    return {}


def _ref_schema(ref: str | None, tag: str | None, types: TypeTable, path: tuple[str, ...], *,
                for_output: bool) -> dict[str, Any]:
    name = ref or "message"
    fields = types.described(ref, tag)
    if fields is None:
        return {"type": "object", "description": f"{name} message"}
    if ref in path or len(path) >= _MAX_DEPTH:
        return {"type": "object", "description": f"{name} message (nested; same fields as above)"}
    schema = message_schema(fields, types, path=path + (ref,), for_output=for_output)
    schema["description"] = f"{name} message"
    return schema


def _with_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` or null."""
    if not schema:
        return schema  # already any value
    out = dict(schema)
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    if "type" in out:
        out["type"] = _add_null_type(out["type"])
        return out
    return {"anyOf": [schema, {"type": "null"}]}


def _add_null_type(kind: str | list[str]) -> list[str]:
    kinds = [kind] if isinstance(kind, str) else list(kind)
    return kinds if "null" in kinds else [*kinds, "null"]


def _default_of(field: Mapping[str, Any]) -> tuple[bool, Any]:
    """(has a JSON default, the default) as the agent should see it."""
    default_kind = field.get("default_kind", "none")
    value = field.get("default_value")
    if default_kind == "empty_list":
        return True, []
    if default_kind == "empty_map":
        return True, {}
    if default_kind == "null":
        return True, None
    if default_kind != "value":
        return False, None
    kind = field.get("kind")
    if kind == "bytes":
        # The runtime records a non-JSON default as its repr (b'...').
        if isinstance(value, str):
            try:
                raw = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                return False, None
            if isinstance(raw, bytes):
                return True, base64.b64encode(raw).decode("ascii")
        return (True, None) if value is None else (False, None)
    if kind == "enum":
        values = field.get("enum_values") or []
        return (True, value) if value in values or value is None else (False, None)
    if kind in ("int",) and isinstance(value, int) and not isinstance(value, bool):
        return True, value
    if kind == "float" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return True, value
    if kind == "bool" and isinstance(value, bool):
        return True, value
    if kind == "string" and isinstance(value, str):
        return True, value
    if value is None:
        return True, None
    return False, None


def field_schema(field: Mapping[str, Any], types: TypeTable, *, path: tuple[str, ...] = (),
                 for_output: bool = False) -> dict[str, Any]:
    """The JSON Schema of one manifest field (type, nullability, default)."""
    kind = field.get("kind", "string")
    if kind == "list":
        item = _kind_schema(field.get("item_kind", "string"), field.get("item_ref"), field.get("item_wire_tag"),
                            None, types, path, for_output=for_output)
        if field.get("item_nullable"):
            item = _with_null(item)
        schema: dict[str, Any] = {"type": "array", "items": item}
    elif kind == "map":
        value = _kind_schema(field.get("value_kind", "string"), field.get("value_ref"), None, None, types, path,
                             for_output=for_output)
        if field.get("value_nullable"):
            value = _with_null(value)
        schema = {"type": "object", "additionalProperties": value}
        key_kind = field.get("key_kind", "string")
        if key_kind == "int":
            schema["propertyNames"] = {"pattern": r"^-?[0-9]+$"}
            schema["description"] = "map with integer keys (written as JSON strings)"
        elif key_kind == "bool":
            schema["propertyNames"] = {"enum": ["true", "false"]}
    else:
        schema = _kind_schema(kind, field.get("ref_name"), field.get("wire_tag"), field.get("enum_values"), types,
                              path, for_output=for_output)
    if field.get("nullable"):
        schema = _with_null(schema)
    if not for_output:
        has_default, default = _default_of(field)
        # A field that refuses null never shows null as its default (leaving it out gives the service's own).
        if has_default and not field.get("required", False) and (default is not None or field.get("nullable")):
            schema["default"] = default
    return schema


def message_schema(fields: Iterable[Mapping[str, Any]], types: TypeTable, *, path: tuple[str, ...] = (),
                   for_output: bool = False) -> dict[str, Any]:
    """An object schema for a message's fields.

    Input schemas are closed (the runtime refuses unknown fields) and list the
    fields declared required; output schemas only describe, so an agent's
    client never rejects a result over a detail the manifest does not carry.
    """
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in fields:
        name = field.get("name")
        if not name:
            continue
        properties[name] = field_schema(field, types, path=path, for_output=for_output)
        if field.get("required") and not for_output:
            required.append(name)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if not for_output:
        if required:
            schema["required"] = required
        schema["additionalProperties"] = False
    return schema


def reserved_collisions(method: Mapping[str, Any]) -> list[str]:
    """Request field names that clash with this layer's own ``_`` arguments."""
    return [f["name"] for f in method.get("fields") or [] if f.get("name") in RESERVED_ARGS]


def _limit_properties() -> dict[str, Any]:
    return {
        MAX_ITEMS_ARG: {"type": "integer", "minimum": 1, "maximum": MAX_ITEMS_CAP, "default": DEFAULT_MAX_ITEMS,
                        "description": "Stop after this many response items."},
        TIMEOUT_ARG: {"type": "number", "exclusiveMinimum": 0, "maximum": TIMEOUT_CAP, "default": DEFAULT_TIMEOUT,
                      "description": "Stop collecting after this many seconds."},
    }


def input_schema(method: Mapping[str, Any], types: TypeTable) -> dict[str, Any]:
    """The tool's ``inputSchema`` for one method, by its pattern."""
    pattern = method.get("pattern", UNARY)
    request = message_schema(method.get("fields") or [], types, path=(method.get("request_type") or "",))
    if pattern in (UNARY, SERVER_STREAM):
        schema = request
        if pattern == SERVER_STREAM:
            schema["properties"].update(_limit_properties())
        return schema
    items = {"type": "array", "items": request,
             "description": f"The {method.get('request_type') or 'request'} messages to send, in order."}
    schema = {"type": "object", "properties": {ITEMS_ARG: items}, "required": [ITEMS_ARG],
              "additionalProperties": False}
    if pattern == BIDI_STREAM:
        schema["properties"].update(_limit_properties())
    return schema


def response_schema(method: Mapping[str, Any], types: TypeTable) -> dict[str, Any]:
    """Schema of one response message (descriptive, see :func:`message_schema`)."""
    return message_schema(method.get("response_fields") or [], types,
                          path=(method.get("response_type") or "",), for_output=True)


def output_schema(method: Mapping[str, Any], types: TypeTable) -> dict[str, Any]:
    """The tool's ``outputSchema``: the response, or the collected stream of them."""
    response = response_schema(method, types)
    if method.get("pattern", UNARY) in (UNARY, CLIENT_STREAM):
        return response
    return {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": response},
            "count": {"type": "integer"},
            "complete": {"type": "boolean", "description": "true when the stream ended by itself"},
            "stopped": {"enum": ["end", "max_items", "timeout", "error"]},
            "error": {"type": "object", "description": "why the call failed (stopped: error; isError is true)",
                      "properties": {"status": {"type": "string"}, "code": {"type": "integer"},
                                     "message": {"type": "string"}, "hint": {"type": "string"}},
                      "required": ["status", "code", "message"]},
        },
        "required": ["items", "count", "complete", "stopped"],
    }


def describe(service: str, method: Mapping[str, Any], *, scoped: str = "shared", version: int | None = None) -> str:
    """One paragraph naming pattern, request and response (plus version, limits and scope)."""
    pattern = method.get("pattern", UNARY)
    request = method.get("request_type") or "request"
    response = method.get("response_type") or "response"
    of_version = f" (version {version})" if version is not None else ""
    text = f"{service}.{method.get('name')}{of_version}: {PATTERN_TEXT.get(pattern, pattern)} RPC. "
    if pattern == UNARY:
        text += f"Request: {request}. Response: {response}."
    elif pattern == SERVER_STREAM:
        text += (f"Request: {request}. Response: a stream of {response}, collected into `items` "
                 f"(at most `{MAX_ITEMS_ARG}`, default {DEFAULT_MAX_ITEMS}, for up to `{TIMEOUT_ARG}` "
                 f"seconds, default {DEFAULT_TIMEOUT:g}).")
    elif pattern == CLIENT_STREAM:
        text += f"Request: a list of {request} in `{ITEMS_ARG}`. Response: {response}."
    else:
        text += (f"Request: a list of {request} in `{ITEMS_ARG}`. Response: the {response} replies, collected "
                 f"into `items` (bounded by `{MAX_ITEMS_ARG}` and `{TIMEOUT_ARG}`).")
    if scoped == "session":
        text += " Session-scoped service: calls in one MCP session share one Aster session."
    if method.get("idempotent"):
        text += " Idempotent."
    return text
