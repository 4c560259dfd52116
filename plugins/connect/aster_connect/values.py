"""One walk of a JSON value against the type a manifest describes.

``aster call``/``aster shell`` (:func:`aster_connect.schema.check_request`) and
``aster mcp`` (``aster_mcp.arguments``) both check a request before sending it:
field names, kinds, nullability, list items, map keys and values, and the nested
messages a :class:`~aster_connect.types.TypeTable` describes. The walk lives here
once and reports the first thing wrong as a structured :class:`Problem` (where,
what was expected, what was found); each family words it for its own readers.

``convert=True`` is how the MCP path reads an agent's JSON, which only has
JSON's types: integral floats become ints and ints floats, bytes must be base64
text, integer and boolean map keys (JSON strings) become ints and booleans,
and enum values must be strings or integers. ``null`` is a value like any other
in both modes: only a nullable field, item or map value takes it (a field with a
default is left out to get that default), as the published schema says. Without
``convert`` values are only checked, and the request is sent exactly as given.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass
from typing import Any

from .types import FieldInfo, TypeInfo, TypeTable

#: how deep nested values are checked (deeper ones are sent as they are)
MAX_DEPTH = 32
_INT_KEY = re.compile(r"[-+]?[0-9]+")
_KIND_CHECKS: dict[str, tuple[type, ...]] = {
    "string": (str,), "bytes": (str,), "int": (int,), "float": (int, float), "bool": (bool,),
    "list": (list,), "map": (dict,), "ref": (dict,),
}


@dataclass(frozen=True)
class MapKey:
    """A map key in a :class:`Problem` path (a plain ``str`` step is a field name, an ``int`` a list index)."""

    key: Any


Path = tuple["str | int | MapKey", ...]


class Problem(Exception):
    """The first thing wrong with a value.

    ``reason`` is one of ``type`` (``found`` is not a value of ``expected``),
    ``null`` (``null`` where none is allowed; ``convert`` only), ``enum`` (not one of
    ``expected.enum_values``), ``bytes`` (not base64; ``convert`` only), ``key``
    (``found`` is no key of ``key_kind``; the last step of ``path`` is that key),
    ``unknown`` and ``missing`` (``names`` of fields; ``path`` is the message's).
    ``type_name``/``fields`` are those of the innermost message around the problem.
    """

    def __init__(self, reason: str, path: Path, *, expected: TypeInfo | None = None, found: Any = None,
                 key_kind: str | None = None, names: tuple[Any, ...] = ()) -> None:
        super().__init__(reason)
        self.reason, self.path, self.expected, self.found = reason, path, expected, found
        self.key_kind, self.names = key_kind, names
        self.type_name: str = ""
        self.fields: tuple[FieldInfo, ...] = ()
        self.in_message = False

    def within(self, type_name: str, fields: tuple[FieldInfo, ...]) -> "Problem":
        """Name the innermost message around the problem (outer messages leave it as it is)."""
        if not self.in_message:
            self.type_name, self.fields, self.in_message = type_name, fields, True
        return self


def walk_fields(fields: tuple[FieldInfo, ...], message: dict, types: TypeTable, *, type_name: str = "",
                path: Path = (), convert: bool = False, depth: int = 0) -> dict:
    """Check (and with ``convert``, convert) one message, a dict, against its fields.

    Unknown names come first (all of them), then each value in the message's
    order, then the required fields left out. A field left out stays left out.
    """
    known = {f.name: f for f in fields}
    try:
        unknown = tuple(k for k in message if k not in known)
        if unknown:
            raise Problem("unknown", path, names=unknown)
        out: dict[Any, Any] = {}
        for key, value in message.items():
            out[key] = walk(known[key].type, value, types, path=(*path, key), convert=convert, depth=depth)
        missing = tuple(f.name for f in fields if f.required and f.name not in message)
        if missing:
            raise Problem("missing", path, names=missing)
    except Problem as problem:
        raise problem.within(type_name, fields) from None
    return out


def walk(t: TypeInfo, value: Any, types: TypeTable, *, path: Path = (), convert: bool = False,
         depth: int = 0) -> Any:
    """Check (and with ``convert``, convert) one value of type ``t``; undescribed parts pass as they are."""
    if t.kind is None or depth > MAX_DEPTH or (value is None and t.nullable):
        return value
    if value is None and convert:
        raise Problem("null", path, expected=t)
    if t.kind == "enum":
        return _enum(t, value, path, convert)
    if convert:
        value = _coerced(t.kind, value)
    if not _kind_ok(t.kind, value) or (convert and t.kind == "float" and not math.isfinite(value)):
        raise Problem("type", path, expected=t, found=value)
    if t.kind == "bytes" and convert and not _is_base64(value):
        raise Problem("bytes", path, expected=t, found=value)
    if t.kind == "list" and t.item is not None:
        return [walk(t.item, item, types, path=(*path, n), convert=convert, depth=depth + 1)
                for n, item in enumerate(value)]
    if t.kind == "map":
        entries: dict[Any, Any] = {}
        for key, item in value.items():
            where = (*path, MapKey(key))
            key = _key(t.key_kind, key, where, convert)      # the key before its value
            entries[key] = item if t.value is None else \
                walk(t.value, item, types, path=where, convert=convert, depth=depth + 1)
        return entries
    if t.kind == "ref":
        fields = types.fields(t.ref, t.wire_tag)
        if fields is not None:
            return walk_fields(fields, value, types, type_name=t.ref or "", path=path, convert=convert,
                               depth=depth + 1)
    return value


def _enum(t: TypeInfo, value: Any, path: Path, convert: bool) -> Any:
    values = t.enum_values
    if values and (value not in values or (isinstance(value, bool) and not any(isinstance(v, bool) for v in values))):
        raise Problem("enum", path, expected=t, found=value)
    if convert and (isinstance(value, bool) or not isinstance(value, (str, int))):
        raise Problem("type", path, expected=t, found=value)
    return value


def _coerced(kind: str, value: Any) -> Any:
    """JSON has one number type: 3.0 is an int, 3 a float."""
    if kind == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _kind_ok(kind: str, value: Any) -> bool:
    if kind in ("int", "float") and isinstance(value, bool):
        return False
    kinds = _KIND_CHECKS.get(kind)
    return kinds is None or isinstance(value, kinds)


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True    # sent as this text: the runtime's JSON mode carries bytes as base64


def _key(kind: str | None, key: Any, path: Path, convert: bool) -> Any:
    """Check a map key (JSON object keys are strings: ``"1"`` is an int key); ``convert`` makes it one."""
    if not _key_ok(kind, key):
        raise Problem("key", path, found=key, key_kind=kind)
    if convert and kind == "int" and isinstance(key, str):
        return int(key)
    if convert and kind == "bool" and isinstance(key, str):
        return key == "true"
    return key


def _key_ok(kind: str | None, key: Any) -> bool:
    if kind in ("string", "bytes"):
        return isinstance(key, str)
    if kind == "int":
        return (isinstance(key, int) and not isinstance(key, bool)) or \
            (isinstance(key, str) and _INT_KEY.fullmatch(key) is not None)
    if kind == "float":
        if isinstance(key, (int, float)) and not isinstance(key, bool):
            return True
        if isinstance(key, str) and key and key.strip() == key:
            try:
                float(key)
                return True
            except ValueError:
                return False
        return False
    if kind == "bool":
        return isinstance(key, bool) or key in ("true", "false")
    return True                   # enum, message or undescribed keys: not checked here


def json_type(value: Any) -> str:
    """The JSON name of a value's type, for messages: ``number``, ``array``, ``null``, ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def short(value: Any) -> str:
    """``repr(value)``, cut to 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
