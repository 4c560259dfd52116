"""What a peer offers: services, methods and fields, read from published manifests.

The service list comes from the admission answer; method schemas come from the
``manifests/<contract_id>`` entries the producer publishes (see
``docs/file-formats.md``, "Contract manifests"). This module turns both
into plain dataclasses (fields and their types are :mod:`aster_connect.types`)
and checks a request against a method's fields before it is sent (the walk is
:mod:`aster_connect.values`, shared with ``aster mcp``), so a wrong field name or
type is a usage error here rather than an ``INTERNAL`` error from the server's
handler.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import CallInvalid, CallNotFound
from .types import FieldInfo, TypeInfo, TypeTable
from .values import MapKey, Path, Problem, json_type, short, walk_fields

__all__ = ["PATTERNS", "FieldInfo", "MethodInfo", "ServiceInfo", "TypeInfo", "TypeTable", "check_request"]

PATTERNS = ("unary", "server_stream", "client_stream", "bidi_stream")


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
    #: how to name it: ``Name`` for the highest version offered, ``Name@N`` for older ones
    ref: str = ""
    #: runtime handle (its ``ServiceSummary``) used to reach the service's channel
    summary: Any = field(default=None, repr=False, compare=False)
    #: the published manifest exactly as read (the runtime's ContractManifest as JSON): its
    #: ``methods[]`` keep every detail :class:`MethodInfo` does not (``idempotent``,
    #: ``default_kind``, ``properties``, ...)
    manifest: dict | None = field(default=None, repr=False, compare=False)
    _methods: dict[str, MethodInfo] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def methods(self) -> dict[str, MethodInfo] | None:
        """The methods by name, built from :attr:`manifest` on first use; ``None`` without a schema.

        Built lazily: a peer with 100 services costs nothing for the 99 that a
        call or a tool list never looks into.
        """
        if self._methods is None and self.manifest is not None:
            described = [m for m in self.manifest.get("methods") or () if isinstance(m, dict) and m.get("name")]
            types = TypeTable.from_methods(described)
            self._methods = {m["name"]: MethodInfo.from_manifest(m, types) for m in described}
        return self._methods

    @methods.setter
    def methods(self, value: dict[str, MethodInfo] | None) -> None:
        self._methods = value

    @property
    def has_schema(self) -> bool:
        """True once methods are known (without building them)."""
        return self._methods is not None or self.manifest is not None

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
        """Take methods (built on first use) and scope from a published manifest, and keep the manifest."""
        if manifest.get("scoped") in ("shared", "session"):
            self.scoped = manifest["scoped"]
        self.manifest = manifest
        self._methods = None


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-]+")
_KEY_RULES = {"string": "must be a string", "bytes": "must be a string", "int": "must be an integer",
              "float": "must be a number", "bool": "must be true or false"}


def _key_path(path: str, key: Any) -> str:
    text = str(key)
    return f"{path}.{text}" if _PLAIN_KEY.fullmatch(text) else f"{path}[{json.dumps(text)}]"


def _path_text(path: Path) -> str:
    """``by_id.x``, ``notes[2]``, ``ranks["a.b"]``: the first step as it is, then keys and indexes."""
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
        else:
            key = step.key if isinstance(step, MapKey) else step
            text = _key_path(text, key) if text else str(key)
    return text


def _says(problem: Problem) -> str:
    """What is wrong, for people at a terminal (the path is added by :func:`check_request`)."""
    found = problem.found
    if problem.reason == "unknown":
        return f"unknown field {problem.names[0]!r}"
    if problem.reason == "missing":
        return f"missing required field(s) {', '.join(problem.names)}"
    if problem.reason == "key":
        return f"key {_KEY_RULES.get(problem.key_kind or '', 'is not valid')}, got {short(found)}"
    assert problem.expected is not None
    if problem.reason == "enum":
        return f"must be one of {list(problem.expected.enum_values)}, got {short(found)}"
    return f"must be {problem.expected.label}, got {json_type(found)} {short(found)}"


def _expected(fields: tuple[FieldInfo, ...]) -> str:
    return ", ".join(f"{f.name}: {f.type_label}" for f in fields) or "(no fields)"


def check_request(method: MethodInfo | None, request: Any, *, where: str = "request") -> dict:
    """Check ``request`` against the method's fields; return it unchanged.

    Raises :class:`CallInvalid` for a non-object, an unknown field, a missing
    required field or a value of the wrong JSON type, down through list items,
    map keys and values and the nested messages the manifest describes (other
    nested messages only have to be objects); the walk is
    :func:`aster_connect.values.walk_fields`. The message names the path:
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
        walk_fields(method.fields, request, method.types, type_name=type_name)
    except Problem as problem:
        hint = f"Fields of {problem.type_name or type_name}: {_expected(problem.fields or method.fields)}."
        close = difflib.get_close_matches(str(problem.names[0]), [f.name for f in problem.fields], n=1) \
            if problem.reason == "unknown" else []
        if close:
            hint = f"Did you mean {close[0]!r}? {hint}"
        message, path = _says(problem), _path_text(problem.path)
        in_request = len(problem.path) == (0 if problem.reason in ("unknown", "missing") else 1)
        if in_request and problem.reason == "unknown":
            text = f"{message} in the {where}"
        elif in_request and problem.reason == "missing":
            text = message
        elif in_request:
            text = f"field {path!r} {message}"
        else:
            text = f"{path}: {message}" + (f" (in the {where})" if where != "request" else "")
        raise CallInvalid("INVALID_ARGUMENT", f"{method.name}: {text}", hint) from None
    return request
