"""What a peer offers: services, methods and fields, read from published manifests.

The service list comes from the admission answer; method schemas come from the
``manifests/<contract_id>`` entries the producer publishes (see
``shared/spec/compat.md``, "Talking to live services"). This module turns both
into plain dataclasses (a field keeps its list-item, map-key and map-value
types) and checks a request against a method's fields before it is sent, down
through list items, map entries and the nested messages the manifest describes,
so a wrong field name or type is a usage error here rather than an ``INTERNAL``
error from the server's handler.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import CallInvalid, CallNotFound

PATTERNS = ("unary", "server_stream", "client_stream", "bidi_stream")


_LABELS = {"string": "str", "int": "int", "float": "float", "bool": "bool", "bytes": "bytes"}


@dataclass(frozen=True)
class TypeInfo:
    """The type of a value as the manifest describes it; ``None`` parts were not described.

    ``item`` is a list's item type, ``key_kind``/``value`` a map's key kind and value
    type; ``ref`` (and ``wire_tag``) name a message or enum type.
    """

    kind: str | None = None       # string int float bool bytes list map enum ref; None: not described
    nullable: bool = False
    ref: str | None = None
    wire_tag: str | None = None
    enum_values: tuple = ()
    item: "TypeInfo | None" = None
    key_kind: str | None = None
    value: "TypeInfo | None" = None

    @property
    def label(self) -> str:
        """A Python-like type for people: ``int``, ``list[str | None]``, ``dict[int, float]``, ``Point | None``."""
        kind = self.kind
        if kind == "list":
            text = f"list[{self.item.label}]" if self.item is not None and self.item.kind else "list"
        elif kind == "map":
            if self.key_kind or (self.value is not None and self.value.kind):
                value = self.value.label if self.value is not None and self.value.kind else "Any"
                text = f"dict[{_LABELS.get(self.key_kind or '', self.key_kind or 'Any')}, {value}]"
            else:
                text = "dict"
        elif kind in ("ref", "enum"):
            text = self.ref or ("dict" if kind == "ref" else "enum")
        elif kind is None:
            text = "Any"
        else:
            text = _LABELS.get(kind, kind)
        return f"{text} | None" if self.nullable and kind is not None else text


@dataclass(frozen=True)
class FieldInfo:
    """One field of a request or response type, with everything the manifest says about its type."""

    name: str
    kind: str = "string"          # string int float bool bytes list map enum ref
    required: bool = False
    nullable: bool = False
    default: Any = None
    #: list items: kind, message/enum type name, nullability
    item_kind: str | None = None
    #: the field's own message/enum type name (``kind`` ref or enum)
    ref_name: str | None = None
    enum_values: tuple = ()
    item_ref: str | None = None
    item_nullable: bool = False
    #: map keys' kind; map values: kind, message/enum type name, nullability
    key_kind: str | None = None
    value_kind: str | None = None
    value_ref: str | None = None
    value_nullable: bool = False
    #: wire tags of the field's own type and of its list items (to find a message's fields)
    wire_tag: str | None = None
    item_wire_tag: str | None = None

    @classmethod
    def from_manifest(cls, data: dict) -> "FieldInfo":
        def text(key: str) -> str | None:
            value = data.get(key)
            return str(value) if value not in (None, "") else None

        return cls(
            name=str(data.get("name", "")),
            kind=str(data.get("kind") or "string"),
            required=bool(data.get("required", False)),
            nullable=bool(data.get("nullable", False)),
            default=data.get("default_value"),
            item_kind=text("item_kind"),
            ref_name=text("ref_name"),
            enum_values=tuple(data.get("enum_values") or ()),
            item_ref=text("item_ref"),
            item_nullable=bool(data.get("item_nullable", False)),
            key_kind=text("key_kind"),
            value_kind=text("value_kind"),
            value_ref=text("value_ref"),
            value_nullable=bool(data.get("value_nullable", False)),
            wire_tag=text("wire_tag"),
            item_wire_tag=text("item_wire_tag"),
        )

    @property
    def type(self) -> TypeInfo:
        """The field's type as a tree (list items, map keys and values)."""
        item = value = None
        if self.kind == "list" and self.item_kind:
            item = TypeInfo(self.item_kind, self.item_nullable, self.item_ref, self.item_wire_tag)
        if self.kind == "map" and self.value_kind:
            value = TypeInfo(self.value_kind, self.value_nullable, self.value_ref)
        return TypeInfo(self.kind, self.nullable, self.ref_name, self.wire_tag, self.enum_values, item,
                        self.key_kind if self.kind == "map" else None, value)

    @property
    def type_label(self) -> str:
        """A short type for people: ``int``, ``list[str | None]``, ``dict[int, float]``, ``Point | None``."""
        return self.type.label

    def to_dict(self) -> dict:
        data = {"name": self.name, "kind": self.kind, "type": self.type_label, "required": self.required,
                "nullable": self.nullable, "default": self.default}
        if self.kind == "list" and self.item_kind:
            data.update(item_kind=self.item_kind, item_nullable=self.item_nullable)
        if self.kind == "map":
            data.update(key_kind=self.key_kind, value_kind=self.value_kind, value_nullable=self.value_nullable)
        return data


class TypeTable:
    """Message type -> its fields, from the request and response types of a service's methods.

    A nested message is only checked field by field when its type is found here (by
    wire tag, or by a name no two described types share); any other one is an object.
    """

    def __init__(self) -> None:
        self._by_tag: dict[str, tuple[FieldInfo, ...]] = {}
        self._by_name: dict[str, tuple[FieldInfo, ...] | None] = {}

    def add(self, name: str, wire_tag: str | None, fields: tuple[FieldInfo, ...]) -> None:
        if not fields:
            return
        if wire_tag:
            self._by_tag.setdefault(wire_tag, fields)
        if name:
            known = self._by_name.get(name, fields)
            self._by_name[name] = fields if known == fields else None   # two types, one name: unknown

    def fields(self, name: str | None, wire_tag: str | None) -> tuple[FieldInfo, ...] | None:
        if wire_tag and wire_tag in self._by_tag:
            return self._by_tag[wire_tag]
        if wire_tag and self._by_tag:
            return None
        return self._by_name.get(name) if name else None


_NO_TYPES = TypeTable()


@dataclass(frozen=True)
class MethodInfo:
    """One method: its streaming pattern and the fields of its request and response."""

    name: str
    pattern: str = "unary"
    request_type: str = ""
    response_type: str = ""
    fields: tuple[FieldInfo, ...] = ()
    response_fields: tuple[FieldInfo, ...] = ()
    timeout: float | None = None
    #: the message types of the method's service, to check nested messages
    types: TypeTable = field(default=_NO_TYPES, repr=False, compare=False, hash=False)

    @classmethod
    def from_manifest(cls, data: dict, types: TypeTable | None = None) -> "MethodInfo":
        return cls(
            name=str(data["name"]),
            pattern=str(data.get("pattern") or "unary"),
            request_type=str(data.get("request_type") or ""),
            response_type=str(data.get("response_type") or ""),
            fields=tuple(FieldInfo.from_manifest(f) for f in data.get("fields") or ()),
            response_fields=tuple(FieldInfo.from_manifest(f) for f in data.get("response_fields") or ()),
            timeout=data.get("timeout"),
            types=types or _NO_TYPES,
        )

    @property
    def streams_requests(self) -> bool:
        return self.pattern in ("client_stream", "bidi_stream")

    @property
    def streams_responses(self) -> bool:
        return self.pattern in ("server_stream", "bidi_stream")

    def field(self, name: str) -> FieldInfo | None:
        return next((f for f in self.fields if f.name == name), None)

    def to_dict(self) -> dict:
        return {"name": self.name, "pattern": self.pattern, "request_type": self.request_type,
                "response_type": self.response_type, "fields": [f.to_dict() for f in self.fields],
                "response_fields": [f.to_dict() for f in self.response_fields], "timeout": self.timeout}


@dataclass
class ServiceInfo:
    """A service a peer offers. ``methods`` and ``manifest`` are ``None`` when no manifest could be read."""

    name: str
    version: int = 1
    scoped: str = "shared"        # shared | session
    contract_id: str = ""
    serialization_modes: tuple[str, ...] = ()
    methods: dict[str, MethodInfo] | None = None
    #: how to name it: ``Name`` for the highest version offered, ``Name@N`` for older ones
    ref: str = ""
    #: runtime handle (its ``ServiceSummary``) used to reach the service's channel
    summary: Any = field(default=None, repr=False, compare=False)
    #: the published manifest exactly as read (the runtime's ContractManifest as JSON): its
    #: ``methods[]`` keep every detail :class:`MethodInfo` does not (``idempotent``,
    #: ``default_kind``, ``properties``, ...)
    manifest: dict | None = field(default=None, repr=False, compare=False)

    @property
    def is_session(self) -> bool:
        return self.scoped == "session"

    def method(self, name: str) -> MethodInfo | None:
        """The method called ``name``; ``None`` when the schema is unknown.

        Raises :class:`CallNotFound` naming the methods that do exist.
        """
        if self.methods is None:
            return None
        found = self.methods.get(name)
        if found is None:
            names = sorted(self.methods)
            close = difflib.get_close_matches(name, names, n=1)
            ref = self.ref or self.name
            hint = f"Did you mean {ref}.{close[0]}? " if close else ""
            raise CallNotFound("NOT_FOUND", f"service {ref!r} has no method {name!r}",
                               f"{hint}Methods of {ref}: {', '.join(names) or '(none)'}.")
        return found

    def to_dict(self) -> dict:
        return {"name": self.name, "ref": self.ref or self.name, "version": self.version, "scoped": self.scoped,
                "contract_id": self.contract_id,
                "methods": None if self.methods is None else [m.to_dict() for m in self.methods.values()]}

    def apply_manifest(self, manifest: dict) -> None:
        """Take methods (and scope) from a published manifest and keep the manifest itself."""
        described = [m for m in manifest.get("methods") or () if isinstance(m, dict) and m.get("name")]
        types = TypeTable()
        for m in described:
            types.add(str(m.get("request_type") or ""), m.get("request_wire_tag"),
                      tuple(FieldInfo.from_manifest(f) for f in m.get("fields") or ()))
            types.add(str(m.get("response_type") or ""), m.get("response_wire_tag"),
                      tuple(FieldInfo.from_manifest(f) for f in m.get("response_fields") or ()))
        self.methods = {m["name"]: MethodInfo.from_manifest(m, types) for m in described}
        if manifest.get("scoped") in ("shared", "session"):
            self.scoped = manifest["scoped"]
        self.manifest = manifest


_KIND_CHECKS: dict[str, tuple[type, ...]] = {
    "string": (str,), "bytes": (str,), "int": (int,), "float": (int, float), "bool": (bool,),
    "list": (list,), "map": (dict,), "ref": (dict,),
}
#: how deep nested values are checked (deeper ones are sent as they are)
_MAX_DEPTH = 32
_INT_KEY = re.compile(r"[-+]?[0-9]+")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-]+")


def _kind_ok(kind: str | None, value: Any) -> bool:
    if kind in ("int", "float") and isinstance(value, bool):
        return False
    types = _KIND_CHECKS.get(kind or "")
    return types is None or isinstance(value, types)


class _Mismatch(Exception):
    """A value that does not fit its type: where (``by_id.x``, ``notes[2]``), what, and the fields to list."""

    def __init__(self, path: str, message: str, type_name: str = "", fields: tuple[FieldInfo, ...] = (),
                 *, top: bool = False, close: str | None = None):
        super().__init__(message)
        self.path, self.message, self.type_name, self.fields, self.top, self.close = \
            path, message, type_name, fields, top, close


def _key_path(path: str, key: Any) -> str:
    text = str(key)
    return f"{path}.{text}" if _PLAIN_KEY.fullmatch(text) else f"{path}[{json.dumps(text)}]"


def _key_problem(kind: str | None, key: Any) -> str | None:
    """Why ``key`` is no key of ``kind`` (JSON object keys are strings: ``"1"`` is an int key)."""
    if kind in ("string", "bytes"):
        return None if isinstance(key, str) else "must be a string"
    if kind == "int":
        ok = (isinstance(key, int) and not isinstance(key, bool)) or (isinstance(key, str) and _INT_KEY.fullmatch(key))
        return None if ok else "must be an integer"
    if kind == "float":
        if isinstance(key, (int, float)) and not isinstance(key, bool):
            return None
        if isinstance(key, str) and key and key.strip() == key:
            try:
                float(key)
                return None
            except ValueError:
                pass
        return "must be a number"
    if kind == "bool":
        return None if isinstance(key, bool) or key in ("true", "false") else "must be true or false"
    return None                   # enum, message or undescribed keys: not checked here


def _check_value(t: TypeInfo, value: Any, path: str, types: TypeTable, depth: int) -> None:
    if t.kind is None or depth > _MAX_DEPTH:
        return
    if value is None and t.nullable:
        return
    if t.kind == "enum":
        values = t.enum_values
        if values and (value not in values
                       or (isinstance(value, bool) and not any(isinstance(v, bool) for v in values))):
            raise _Mismatch(path, f"must be one of {list(t.enum_values)}, got {_short(value)}")
        return
    if not _kind_ok(t.kind, value):
        raise _Mismatch(path, f"must be {t.label}, got {_json_type(value)} {_short(value)}")
    if t.kind == "list" and t.item is not None:
        for n, item in enumerate(value):
            _check_value(t.item, item, f"{path}[{n}]", types, depth + 1)
    elif t.kind == "map":
        for key, item in value.items():
            where = _key_path(path, key)
            problem = _key_problem(t.key_kind, key)
            if problem:
                raise _Mismatch(where, f"key {problem}, got {_short(key)}")
            if t.value is not None:
                _check_value(t.value, item, where, types, depth + 1)
    elif t.kind == "ref":
        fields = types.fields(t.ref, t.wire_tag)
        if fields is not None:
            _check_fields(fields, value, path, t.ref or "", types, depth + 1)


def _check_fields(fields: tuple[FieldInfo, ...], message: dict, path: str, type_name: str, types: TypeTable,
                  depth: int) -> None:
    """Check one message (a dict) against its fields; ``path`` is ``""`` for the request itself."""
    known = {f.name: f for f in fields}
    for key, value in message.items():
        spec = known.get(key)
        where = _key_path(path, key) if path else str(key)
        if spec is None:
            close = difflib.get_close_matches(str(key), list(known), n=1)
            raise _Mismatch(path, f"unknown field {key!r}", type_name, fields, top=not path,
                            close=close[0] if close else None)
        try:
            _check_value(spec.type, value, where, types, depth)
        except _Mismatch as exc:
            if not exc.type_name:
                exc.type_name, exc.fields, exc.top = type_name, fields, not path and exc.path == key
            raise
    missing = [f.name for f in fields if f.required and f.name not in message]
    if missing:
        raise _Mismatch(path, f"missing required field(s) {', '.join(missing)}", type_name, fields, top=not path)


def _expected(fields: tuple[FieldInfo, ...]) -> str:
    return ", ".join(f"{f.name}: {f.type_label}" for f in fields) or "(no fields)"


def check_request(method: MethodInfo | None, request: Any, *, where: str = "request") -> dict:
    """Check ``request`` against the method's fields; return it unchanged.

    Raises :class:`CallInvalid` for a non-object, an unknown field, a missing
    required field or a value of the wrong JSON type, down through list items,
    map keys and values and the nested messages the manifest describes (other
    nested messages only have to be objects). The message names the path:
    ``by_id.x: key must be an integer``, ``notes[1]: must be str | None``. With
    no schema (``method is None``) only the object shape is checked.
    """
    if not isinstance(request, dict):
        raise CallInvalid("INVALID_ARGUMENT", f"the {where} must be a JSON object, not {type(request).__name__}",
                          "Pass an object such as '{\"name\": \"value\"}'.")
    if method is None:
        return request
    type_name = method.request_type or method.name
    try:
        _check_fields(method.fields, request, "", type_name, method.types, 0)
    except _Mismatch as exc:
        hint = f"Fields of {exc.type_name or type_name}: {_expected(exc.fields or method.fields)}."
        if exc.close:
            hint = f"Did you mean {exc.close!r}? {hint}"
        if exc.top and exc.message.startswith("unknown field"):
            text = f"{exc.message} in the {where}"
        elif exc.top and exc.message.startswith("missing"):
            text = exc.message
        elif exc.top:
            text = f"field {exc.path!r} {exc.message}"
        else:
            text = f"{exc.path}: {exc.message}" + (f" (in the {where})" if where != "request" else "")
        raise CallInvalid("INVALID_ARGUMENT", f"{method.name}: {text}", hint) from None
    return request


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
