"""Tool arguments (JSON from the agent) -> the request the service receives.

Mirrors :mod:`aster_mcp.schema`: bytes arrive base64-encoded and are checked,
map keys declared as integers arrive as JSON strings and are converted, nested
messages the :class:`~aster_mcp.schema.TypeTable` knows are checked field by
field. A wrong argument raises :class:`ArgumentError` with a message an agent
can act on; nothing is sent to the service then.
"""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass
from typing import Any, Mapping

from .schema import (
    BIDI_STREAM,
    CLIENT_STREAM,
    DEFAULT_MAX_ITEMS,
    DEFAULT_TIMEOUT,
    ITEMS_ARG,
    MAX_ITEMS_ARG,
    MAX_ITEMS_CAP,
    SERVER_STREAM,
    TIMEOUT_ARG,
    TIMEOUT_CAP,
    TypeTable,
)


class ArgumentError(ValueError):
    """The agent's arguments do not fit the method's request."""


@dataclass(frozen=True)
class CallPlan:
    """What to send: one request (unary, server stream) or a list (client/bidi stream)."""

    request: dict | None = None
    items: list[dict] | None = None
    max_items: int = DEFAULT_MAX_ITEMS
    timeout: float = DEFAULT_TIMEOUT


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def _scalar(kind: str, value: Any, where: str) -> Any:
    if kind == "string":
        if isinstance(value, str):
            return value
    elif kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif kind == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    elif kind == "bool":
        if isinstance(value, bool):
            return value
    elif kind == "bytes":
        if isinstance(value, str):
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise ArgumentError(f"{where} must be base64-encoded bytes; {value[:20]!r} is not base64") from None
            return value  # calls travel in the runtime's JSON mode, which carries bytes as this text
        raise ArgumentError(f"{where} must be a base64 string, got {_json_type(value)}")
    expected = {"string": "a string", "int": "an integer", "float": "a number", "bool": "a boolean"}[kind]
    raise ArgumentError(f"{where} must be {expected}, got {_json_type(value)} {_short(value)}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _value(kind: str | None, ref: str | None, enum_values: list | None, value: Any, types: TypeTable,
           where: str) -> Any:
    """Convert one value of ``kind`` (nullability is checked by the caller)."""
    if kind in ("string", "int", "float", "bool", "bytes"):
        return _scalar(kind, value, where)
    if kind == "enum":
        if enum_values and value not in enum_values:
            raise ArgumentError(f"{where} must be one of {list(enum_values)}, got {_short(value)}")
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return value
        raise ArgumentError(f"{where} must be an enum value, got {_json_type(value)}")
    if kind == "ref":
        if not isinstance(value, dict):
            raise ArgumentError(f"{where} must be an object ({ref or 'message'}), got {_json_type(value)}")
        fields = types.get(ref)
        return value if fields is None else message_from_arguments(fields, value, types, where=where)
    if kind == "list":
        if not isinstance(value, list):
            raise ArgumentError(f"{where} must be an array, got {_json_type(value)}")
        return value
    if kind == "map":
        if not isinstance(value, dict):
            raise ArgumentError(f"{where} must be an object, got {_json_type(value)}")
        return value
    return value


def _nullable(value: Any, nullable: bool, where: str) -> bool:
    """True when ``value`` is an allowed null (raise when it is a forbidden one)."""
    if value is not None:
        return False
    if nullable:
        return True
    raise ArgumentError(f"{where} may not be null")


def field_value(field: Mapping[str, Any], value: Any, types: TypeTable, where: str) -> Any:
    """Convert the value of one manifest field."""
    if _nullable(value, bool(field.get("nullable")), where):
        return None
    kind = field.get("kind", "string")
    if kind == "list":
        if not isinstance(value, list):
            raise ArgumentError(f"{where} must be an array, got {_json_type(value)}")
        out = []
        for index, item in enumerate(value):
            item_where = f"{where}[{index}]"
            if _nullable(item, bool(field.get("item_nullable")), item_where):
                out.append(None)
                continue
            out.append(_value(field.get("item_kind", "string"), field.get("item_ref"), None, item, types,
                              item_where))
        return out
    if kind == "map":
        if not isinstance(value, dict):
            raise ArgumentError(f"{where} must be an object, got {_json_type(value)}")
        key_kind = field.get("key_kind", "string")
        out_map: dict[Any, Any] = {}
        for key, item in value.items():
            item_where = f"{where}[{key!r}]"
            if key_kind == "int":
                try:
                    key = int(key)
                except (TypeError, ValueError):
                    raise ArgumentError(f"{where} has integer keys; {key!r} is not an integer") from None
            elif key_kind == "bool":
                if key not in ("true", "false"):
                    raise ArgumentError(f"{where} has boolean keys; {key!r} is not true or false")
                key = key == "true"
            if _nullable(item, bool(field.get("value_nullable")), item_where):
                out_map[key] = None
                continue
            out_map[key] = _value(field.get("value_kind", "string"), field.get("value_ref"), None, item, types,
                                  item_where)
        return out_map
    return _value(kind, field.get("ref_name"), field.get("enum_values"), value, types, where)


def message_from_arguments(fields: list[Mapping[str, Any]], arguments: Mapping[str, Any], types: TypeTable,
                           *, where: str = "") -> dict:
    """Check and convert an object of arguments against a message's fields.

    A field left out is left out (the service applies its default); ``null``
    for a non-nullable field that has a default counts as left out.
    """
    by_name = {f.get("name"): f for f in fields}
    unknown = [k for k in arguments if k not in by_name]
    if unknown:
        expected = ", ".join(sorted(str(n) for n in by_name)) or "(none)"
        prefix = f"{where}: " if where else ""
        raise ArgumentError(f"{prefix}unknown field(s) {', '.join(map(repr, unknown))}; expected: {expected}")
    out: dict[str, Any] = {}
    for name, field in by_name.items():
        path = f"{where}.{name}" if where else str(name)
        if name not in arguments:
            if field.get("required"):
                raise ArgumentError(f"missing required field {path!r}")
            continue
        value = arguments[name]
        if value is None and not field.get("nullable") and not field.get("required"):
            continue
        out[name] = field_value(field, value, types, path)
    return out


def _limits(arguments: Mapping[str, Any]) -> tuple[int, float]:
    max_items = arguments.get(MAX_ITEMS_ARG, DEFAULT_MAX_ITEMS)
    if max_items is None:
        max_items = DEFAULT_MAX_ITEMS
    if isinstance(max_items, float) and max_items.is_integer():
        max_items = int(max_items)
    if not isinstance(max_items, int) or isinstance(max_items, bool) or not 1 <= max_items <= MAX_ITEMS_CAP:
        raise ArgumentError(f"{MAX_ITEMS_ARG} must be an integer from 1 to {MAX_ITEMS_CAP}")
    timeout = arguments.get(TIMEOUT_ARG, DEFAULT_TIMEOUT)
    if timeout is None:
        timeout = DEFAULT_TIMEOUT
    if (not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not math.isfinite(timeout)
            or not 0 < timeout <= TIMEOUT_CAP):
        raise ArgumentError(f"{TIMEOUT_ARG} must be a number of seconds above 0 and at most {TIMEOUT_CAP:g}")
    return max_items, float(timeout)


def plan_call(method: Mapping[str, Any], arguments: Mapping[str, Any] | None, types: TypeTable) -> CallPlan:
    """Turn a tool call's arguments into what to send, by the method's pattern."""
    arguments = dict(arguments or {})
    pattern = method.get("pattern", "unary")
    fields = method.get("fields") or []
    max_items, timeout = DEFAULT_MAX_ITEMS, DEFAULT_TIMEOUT
    if pattern in (SERVER_STREAM, BIDI_STREAM):
        max_items, timeout = _limits(arguments)
        arguments.pop(MAX_ITEMS_ARG, None)
        arguments.pop(TIMEOUT_ARG, None)
    if pattern in (CLIENT_STREAM, BIDI_STREAM):
        if ITEMS_ARG not in arguments:
            raise ArgumentError(f"missing required argument {ITEMS_ARG!r}: the list of messages to send")
        raw = arguments.pop(ITEMS_ARG)
        if arguments:
            raise ArgumentError(f"unknown argument(s) {', '.join(map(repr, arguments))}; "
                                f"put the messages in {ITEMS_ARG!r}")
        if not isinstance(raw, list):
            raise ArgumentError(f"{ITEMS_ARG} must be an array of objects, got {_json_type(raw)}")
        items = []
        for index, item in enumerate(raw):
            if not isinstance(item, dict):
                raise ArgumentError(f"{ITEMS_ARG}[{index}] must be an object, got {_json_type(item)}")
            items.append(message_from_arguments(fields, item, types, where=f"{ITEMS_ARG}[{index}]"))
        return CallPlan(items=items, max_items=max_items, timeout=timeout)
    return CallPlan(request=message_from_arguments(fields, arguments, types), max_items=max_items, timeout=timeout)
