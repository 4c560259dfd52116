"""What a peer offers: services, methods and fields, read from published manifests.

The service list comes from the admission answer; method schemas come from the
``manifests/<contract_id>`` entries the producer publishes (see
``shared/spec/compat.md``, "Talking to live services"). This module turns both
into plain dataclasses and checks a request against a method's fields before
it is sent, so a wrong field name or type is a usage error here rather than an
``INTERNAL`` error from the server's handler.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from .errors import CallInvalid, CallNotFound

PATTERNS = ("unary", "server_stream", "client_stream", "bidi_stream")


@dataclass(frozen=True)
class FieldInfo:
    """One field of a request or response type (from the manifest)."""

    name: str
    kind: str = "string"          # string int float bool bytes list map enum ref
    required: bool = False
    nullable: bool = False
    default: Any = None
    item_kind: str | None = None
    ref_name: str | None = None
    enum_values: tuple = ()

    @classmethod
    def from_manifest(cls, data: dict) -> "FieldInfo":
        return cls(
            name=str(data.get("name", "")),
            kind=str(data.get("kind") or "string"),
            required=bool(data.get("required", False)),
            nullable=bool(data.get("nullable", False)),
            default=data.get("default_value"),
            item_kind=data.get("item_kind"),
            ref_name=data.get("ref_name") or data.get("item_ref"),
            enum_values=tuple(data.get("enum_values") or ()),
        )

    @property
    def type_label(self) -> str:
        """A short type for people: ``int``, ``list[string]``, ``Point?``."""
        if self.kind == "list":
            label = f"list[{self.ref_name or self.item_kind or 'any'}]"
        elif self.kind in ("ref", "enum"):
            label = self.ref_name or self.kind
        else:
            label = self.kind
        return label + ("?" if self.nullable else "")

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "type": self.type_label, "required": self.required,
                "nullable": self.nullable, "default": self.default}


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

    @classmethod
    def from_manifest(cls, data: dict) -> "MethodInfo":
        return cls(
            name=str(data["name"]),
            pattern=str(data.get("pattern") or "unary"),
            request_type=str(data.get("request_type") or ""),
            response_type=str(data.get("response_type") or ""),
            fields=tuple(FieldInfo.from_manifest(f) for f in data.get("fields") or ()),
            response_fields=tuple(FieldInfo.from_manifest(f) for f in data.get("response_fields") or ()),
            timeout=data.get("timeout"),
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
    #: ``methods[]`` keep every field detail :class:`FieldInfo` does not (map key/value
    #: kinds, list-item nullability, ``idempotent``, ...)
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
        self.methods = {m["name"]: MethodInfo.from_manifest(m) for m in manifest.get("methods") or ()}
        if manifest.get("scoped") in ("shared", "session"):
            self.scoped = manifest["scoped"]
        self.manifest = manifest


_KIND_CHECKS: dict[str, tuple[type, ...]] = {
    "string": (str,), "bytes": (str,), "int": (int,), "float": (int, float), "bool": (bool,),
    "list": (list,), "map": (dict,), "ref": (dict,),
}


def _kind_ok(kind: str, value: Any) -> bool:
    if kind in ("int", "float") and isinstance(value, bool):
        return False
    types = _KIND_CHECKS.get(kind)
    return types is None or isinstance(value, types)


def check_request(method: MethodInfo | None, request: Any, *, where: str = "request") -> dict:
    """Check ``request`` against the method's fields; return it unchanged.

    Raises :class:`CallInvalid` for a non-object, an unknown field, a missing
    required field or a value of the wrong JSON type. With no schema
    (``method is None``) only the object shape is checked.
    """
    if not isinstance(request, dict):
        raise CallInvalid("INVALID_ARGUMENT", f"the {where} must be a JSON object, not {type(request).__name__}",
                          "Pass an object such as '{\"name\": \"value\"}'.")
    if method is None:
        return request
    known = {f.name: f for f in method.fields}
    expected = ", ".join(f"{f.name}: {f.type_label}" for f in method.fields) or "(no fields)"
    for key, value in request.items():
        spec = known.get(key)
        if spec is None:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f"Did you mean {close[0]!r}? " if close else ""
            raise CallInvalid("INVALID_ARGUMENT", f"{method.name}: unknown field {key!r} in the {where}",
                              f"{hint}Fields of {method.request_type or method.name}: {expected}.")
        if value is None and spec.nullable:
            continue
        if spec.kind == "enum" and spec.enum_values and value not in spec.enum_values:
            raise CallInvalid("INVALID_ARGUMENT", f"{method.name}: field {key!r} must be one of "
                              f"{list(spec.enum_values)}, got {value!r}", f"Fields: {expected}.")
        if not _kind_ok(spec.kind, value):
            raise CallInvalid("INVALID_ARGUMENT",
                              f"{method.name}: field {key!r} must be {spec.type_label}, got "
                              f"{_json_type(value)} {_short(value)}",
                              f"Fields of {method.request_type or method.name}: {expected}.")
    missing = [f.name for f in method.fields if f.required and f.name not in request]
    if missing:
        raise CallInvalid("INVALID_ARGUMENT", f"{method.name}: missing required field(s) {', '.join(missing)}",
                          f"Fields of {method.request_type or method.name}: {expected}.")
    return request


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
