"""Tool arguments (JSON from the agent) -> the request the service receives.

The check is aster_connect's walk (:func:`aster_connect.values.walk_fields`) in
its converting mode, so the values an agent writes in JSON become what the
method takes (bytes as checked base64 text, integer and boolean map keys from
JSON strings, nested messages the :class:`~aster_connect.types.TypeTable` knows
checked field by field). This module adds what only tools have: the reserved
``_items``/``_max_items``/``_timeout`` arguments, the plan of a call by its
pattern, and the wording: a wrong argument raises :class:`ArgumentError` with a
message an agent can act on; nothing is sent to the service then.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from aster_connect.jsontext import JsonLimit, check_value
from aster_connect.types import FieldInfo, TypeInfo, TypeTable
from aster_connect.values import MapKey, Path, Problem, json_type, short, walk_fields

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


_A_SCALAR = {"string": "a string", "int": "an integer", "float": "a number", "bool": "a boolean"}
_KEYS = {"int": ("integer", "an integer"), "float": ("number", "a number"), "bool": ("boolean", "true or false"),
         "string": ("string", "a string"), "bytes": ("string", "a string")}


def _where(prefix: str, path: Path) -> str:
    """``_items[0].inner.label``, ``scores['a']``: field names dotted, keys and indexes in brackets."""
    text = prefix
    for step in path:
        if isinstance(step, MapKey):
            text += f"[{step.key!r}]"
        elif isinstance(step, int):
            text += f"[{step}]"
        else:
            text = f"{text}.{step}" if text else str(step)
    return text


_A_KIND = {**_A_SCALAR, "bytes": "a base64 string", "enum": "an enum value", "list": "an array", "map": "an object"}


def _a(t: TypeInfo) -> str:
    """What a value of ``t`` is in the agent's JSON: ``an integer``, ``an object (Scores)``."""
    return f"an object ({t.ref or 'message'})" if t.kind == "ref" else _A_KIND.get(t.kind or "", "an object")


def _null_wording(problem: Problem, where: str) -> str:
    """``scores.by_id may not be null: it is an object; leave it out for its default``."""
    assert problem.expected is not None
    text = f"{where} may not be null: it is {_a(problem.expected)}"
    name = problem.path[-1] if problem.path else None
    spec = next((f for f in problem.fields if f.name == name), None) if isinstance(name, str) else None
    if spec is not None:
        text += ", and required" if spec.required else "; leave it out for its default"
    return text


def _wording(problem: Problem, prefix: str) -> str:
    """The problem as an agent reads it (names the argument, says what JSON is expected)."""
    where, found, t = _where(prefix, problem.path), problem.found, problem.expected
    if problem.reason == "unknown":
        expected = ", ".join(sorted(f.name for f in problem.fields)) or "(none)"
        return (f"{where + ': ' if where else ''}unknown field(s) {', '.join(map(repr, problem.names))}; "
                f"expected: {expected}")
    if problem.reason == "missing":
        return f"missing required field {_where(where, (problem.names[0],))!r}"
    if problem.reason == "key":
        plural, single = _KEYS.get(problem.key_kind or "", ("valid", "a valid key"))
        return f"{_where(prefix, problem.path[:-1])} has {plural} keys; {found!r} is not {single}"
    if problem.reason == "null":
        return _null_wording(problem, where)
    if problem.reason == "bytes":
        return f"{where} must be base64-encoded bytes; {found[:20]!r} is not base64"
    assert t is not None
    if problem.reason == "enum" and found not in t.enum_values:     # else True among [0, 1, 2]: not an enum value
        return f"{where} must be one of {list(t.enum_values)}, got {short(found)}"
    if t.kind in _A_SCALAR:
        return f"{where} must be {_A_SCALAR[t.kind]}, got {json_type(found)} {short(found)}"
    return f"{where} must be {_a(t)}, got {json_type(found)}"


def message_from_arguments(fields: list[Mapping[str, Any]], arguments: Mapping[str, Any], types: TypeTable,
                           *, where: str = "") -> dict:
    """Check and convert an object of arguments against a message's fields (``where`` names it).

    A field left out is left out (the service applies its default); ``null`` is
    taken only where the schema allows it (a nullable field, item or map value):
    elsewhere it is an :class:`ArgumentError` naming the field, as the schema an
    agent sees says.
    """
    specs = tuple(FieldInfo.from_manifest(f) for f in fields)
    try:
        return walk_fields(specs, dict(arguments), types, convert=True)
    except Problem as problem:
        raise ArgumentError(_wording(problem, where)) from None


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
    try:
        check_value(arguments)  # the limits aster call applies: nesting, 64-bit integers, finite numbers
    except JsonLimit as exc:
        raise ArgumentError(f"the arguments cannot be sent: {exc}") from None
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
            raise ArgumentError(f"{ITEMS_ARG} must be an array of objects, got {json_type(raw)}")
        items = []
        for index, item in enumerate(raw):
            if not isinstance(item, dict):
                raise ArgumentError(f"{ITEMS_ARG}[{index}] must be an object, got {json_type(item)}")
            items.append(message_from_arguments(fields, item, types, where=f"{ITEMS_ARG}[{index}]"))
        return CallPlan(items=items, max_items=max_items, timeout=timeout)
    return CallPlan(request=message_from_arguments(fields, arguments, types), max_items=max_items, timeout=timeout)
