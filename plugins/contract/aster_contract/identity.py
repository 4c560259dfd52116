"""A service's contract identity as the runtime computes it, each type resolved and hashed once.

``aster.contract.contract_id_from_service`` walks the type graph, builds a ``TypeDef`` per
message, turns each into JSON for the runtime's native canonical encoder and hashes it, then
does the same for the ``ServiceContract``. It resolves every message's hints three times, and
its ``ServiceContract`` step looks each string-annotated method type up by a linear scan of
all type names (quadratic in the number of methods). :func:`service_identity` composes the same
steps with the same rules (listed at each step below), from one resolution per class
(:func:`aster_contract.hints.hints`), straight to the JSON the native encoder reads, and
through the runtime's own encoder and hash: the bytes hashed are the bytes the runtime hashes
(``tests/contract/test_identity.py`` compares JSON, hashes and ids over services that exercise
every rule).

A type graph with a cycle (possible outside XLANG) goes through the runtime's own functions:
its cycle breaking decides back references and the order types are hashed in.
"""

from __future__ import annotations

import dataclasses
import json
import typing
import unicodedata
from dataclasses import dataclass
from typing import Any

from .hints import hints

ZERO = b"\x00" * 32
# the runtime's primitive names for field types and for method types (which lack bytearray)
_FIELD_PRIMITIVES = {str: "string", int: "int64", float: "float64", bool: "bool", bytes: "binary",
                     bytearray: "binary"}
_METHOD_PRIMITIVES = {int: "int64", float: "float64", str: "string", bool: "bool", bytes: "binary"}
_PATTERNS = {"server_stream": "server_stream", "client_stream": "client_stream", "bidi_stream": "bidi_stream"}


@dataclass(frozen=True)
class Identity:
    """What a manifest records of a service's identity."""

    contract_id: str
    type_hashes: dict[str, bytes]   # by fully qualified name, in the runtime's hashing order
    method_count: int
    serialization_modes: list[str]
    scoped: str                     # "shared" | "session"


class _RuntimeDecides(Exception):
    """A case our composition leaves to the runtime (a cyclic type graph, an odd value)."""


def _args(tp: Any) -> tuple:
    return getattr(tp, "__args__", None) or ()


def _optional(tp: Any) -> tuple[bool, Any]:
    """``Optional[X]`` (``typing.Union`` with ``None``) -> ``(True, X)``; anything else unchanged.
    Like the runtime, ``X | None`` is not optional here (it has no ``__origin__``)."""
    if getattr(tp, "__origin__", None) is typing.Union:
        args = _args(tp)
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and type(None) in args:
            return True, rest[0]
    return False, tp


def _fqn(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


_Fields = dict  # class -> [(field, resolved type)], filled once per class


def _field_types(cls: type, cache: _Fields) -> list[tuple[dataclasses.Field, Any]]:
    """A dataclass's fields with their resolved types (the raw annotation where resolving fails,
    as the runtime falls back)."""
    out = cache.get(cls)
    if out is None:
        resolved = hints(cls)
        out = cache[cls] = [(f, resolved.get(f.name, f.type)) for f in dataclasses.fields(cls)]
    return out


def _type_graph(roots: list[type], cache: _Fields) -> dict[str, type]:
    """Every dataclass reachable from ``roots`` by fully qualified name (the first class of a name
    wins), walking generic arguments and fields depth first, like ``build_type_graph``."""
    found: dict[str, type] = {}

    def visit(tp: Any) -> None:
        if getattr(tp, "__origin__", None) is not None:
            for arg in _args(tp):
                visit(arg)
            return
        if not isinstance(tp, type) or tp in _FIELD_PRIMITIVES or tp is type(None) \
                or not dataclasses.is_dataclass(tp):
            return
        name = _fqn(tp)
        if name in found:
            return
        found[name] = tp
        for _, field_type in _field_types(tp, cache):
            visit(field_type)

    for root in roots:
        visit(root)
    return found


def _refs(tp: Any, types: dict[str, type], out: set[str]) -> None:
    if tp is None:
        return
    if getattr(tp, "__origin__", None) is not None:
        for arg in _args(tp):
            _refs(arg, types, out)
    elif isinstance(tp, type) and dataclasses.is_dataclass(tp) and _fqn(tp) in types:
        out.add(_fqn(tp))


def _hashing_order(types: dict[str, type], cache: _Fields) -> list[str]:
    """Types leaves first, in the order of the runtime's Tarjan walk (sorted names, sorted
    references, each type after everything it refers to). Raises :class:`_RuntimeDecides`."""
    graph: dict[str, list[str]] = {}
    for name, cls in types.items():
        refs: set[str] = set()
        for _, field_type in _field_types(cls, cache):
            _refs(field_type, types, refs)
        graph[name] = sorted(refs)
    order: list[str] = []
    state: dict[str, int] = {}  # 1 on the walk's stack, 2 done
    for start in sorted(graph):
        if start in state:
            continue
        state[start] = 1
        stack = [(start, iter(graph[start]))]
        while stack:
            node, pending = stack[-1]
            for nxt in pending:
                seen = state.get(nxt)
                if seen == 1:
                    raise _RuntimeDecides
                if seen is None:
                    state[nxt] = 1
                    stack.append((nxt, iter(graph[nxt])))
                    break
            else:
                stack.pop()
                state[node] = 2
                order.append(node)
    return order


def _field_type_json(tp: Any, hashes: dict[str, bytes]) -> tuple[str, str, str]:
    """(type kind, primitive, ref hex) of a field's (element) type, like the runtime."""
    if tp is None or tp is type(None):
        return "primitive", "null", ""
    if tp in _FIELD_PRIMITIVES:
        return "primitive", _FIELD_PRIMITIVES[tp], ""
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return "ref", "", hashes.get(_fqn(tp), ZERO).hex()
    return "any", "", ""


def _field_json(index: int, f: dataclasses.Field, tp: Any, hashes: dict[str, bytes]) -> dict[str, Any]:
    optional, inner = _optional(tp)
    actual = inner if optional else tp
    origin = getattr(actual, "__origin__", None)
    container, key = "none", ("primitive", "", "")
    if origin in (list, typing.List) or origin in (set, typing.Set, frozenset):
        container = "list" if origin in (list, typing.List) else "set"
        args = _args(actual)
        element = _field_type_json(args[0] if args else None, hashes)
    elif origin in (dict, typing.Dict):
        container = "map"
        args = _args(actual)
        key = _field_type_json(args[0] if args else None, hashes)
        element = _field_type_json(args[1] if len(args) > 1 else None, hashes)
    else:
        element = _field_type_json(actual, hashes)
    _text(f.name)
    return {"id": index, "name": f.name, "type_kind": element[0], "type_primitive": element[1],
            "type_ref": element[2], "self_ref_name": "", "optional": optional, "ref_tracked": False,
            "container": container, "container_key_kind": key[0], "container_key_primitive": key[1],
            "container_key_ref": key[2]}


def _text(value: Any) -> str:
    """A name the runtime writes as is (anything but a plain string: let the runtime decide)."""
    if type(value) is not str:
        raise _RuntimeDecides
    return value


def _type_json(cls: type, hashes: dict[str, bytes], cache: _Fields) -> str:
    package = cls.__fory_namespace__ if getattr(cls, "__fory_namespace__", None) else (cls.__module__ or "")
    name = cls.__fory_typename__ if hasattr(cls, "__fory_typename__") else cls.__qualname__
    fields = [_field_json(i, f, tp, hashes) for i, (f, tp) in enumerate(_field_types(cls, cache), start=1)]
    return json.dumps({"kind": "message", "package": _text(package), "name": _text(name), "fields": fields,
                       "enum_values": [], "union_variants": []})


class _MethodTypeHashes:
    """The runtime's lookup of a method's request/response type hash (``_resolve_type_hash``),
    with its name scan of string annotations indexed once."""

    def __init__(self, hashes: dict[str, bytes], type_hash: Any) -> None:
        self.hashes = hashes
        self.type_hash = type_hash
        self.by_suffix: dict[str, bytes] = {}
        for name, h in hashes.items():  # the first type whose name equals or ends with ".<text>"
            self.by_suffix.setdefault(name, h)
            for i, ch in enumerate(name):
                if ch == ".":
                    self.by_suffix.setdefault(name[i + 1:], h)

    def __call__(self, tp: Any) -> bytes:
        if tp is None:
            return ZERO
        if isinstance(tp, str):
            return self.by_suffix.get(tp, ZERO)
        if tp in _METHOD_PRIMITIVES:
            return self.type_hash(_METHOD_PRIMITIVES[tp].encode("utf-8"))
        name = f"{tp.__module__}.{tp.__qualname__}"
        if name in self.hashes:
            return self.hashes[name]
        return self.hashes.get(tp.__qualname__, ZERO)


def _scalar(value: Any) -> Any:
    """A method's ``idempotent`` or ``default_timeout`` as the runtime's JSON writes it."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, bytes):
        return value.hex()
    raise _RuntimeDecides  # anything stranger: the runtime's own converter decides


def _serialization_modes(info: Any) -> list[str]:
    modes: list[str] = []
    for mode in info.serialization_modes:
        if hasattr(mode, "name"):
            modes.append(mode.name.lower())
        elif hasattr(mode, "value") and isinstance(mode.value, str):
            modes.append(mode.value)
        elif isinstance(mode, str):
            modes.append(mode)
        else:
            modes.append(str(mode))
    return modes or ["xlang"]


def _contract_json(info: Any, lookup: _MethodTypeHashes, modes: list[str], scoped: str) -> str:
    methods = []
    for name, method in info.methods.items():
        timeout = method.timeout if method.timeout is not None else 0.0
        methods.append({"name": _text(name), "pattern": _PATTERNS.get(method.pattern, "unary"),
                        "request_type": lookup(method.request_type).hex(),
                        "response_type": lookup(method.response_type).hex(),
                        "idempotent": _scalar(method.idempotent), "default_timeout": _scalar(timeout),
                        "requires": None})
    methods.sort(key=lambda m: unicodedata.normalize("NFC", m["name"]))
    version = info.version
    if not isinstance(version, (bool, int)):
        raise _RuntimeDecides
    return json.dumps({"name": _text(info.name), "version": version, "methods": methods,
                       "serialization_modes": [_text(m) for m in modes], "scoped": scoped, "requires": None})


def _runtime_identity(service_cls: type) -> Identity:
    """The runtime's own pipeline (``contract_id_from_service``'s steps, in its order)."""
    from aster.contract import (ServiceContract, build_type_graph, canonical_xlang_bytes, compute_contract_id,
                                compute_type_hash, resolve_with_cycles)

    info = service_cls.__aster_service_info__
    roots = [t for m in info.methods.values() for t in (m.request_type, m.response_type)
             if t is not None and isinstance(t, type)]
    type_defs = resolve_with_cycles(build_type_graph(roots))
    hashes = {fqn: compute_type_hash(canonical_xlang_bytes(td)) for fqn, td in type_defs.items()}
    contract = ServiceContract.from_service_info(info, hashes)
    return Identity(compute_contract_id(canonical_xlang_bytes(contract)), hashes, len(contract.methods),
                    list(contract.serialization_modes), contract.scoped.name.lower())


def fast_identity(service_cls: type) -> Identity:
    """:func:`service_identity` by our own composition; raises where the runtime's pipeline must
    decide (a cyclic type graph, a value its JSON converter would change, no native encoder)."""
    from aster._aster import contract as native
    from aster.contract import compute_contract_id, compute_type_hash
    from aster.service import ServiceInfo

    encode = native.canonical_bytes_from_json
    info = service_cls.__aster_service_info__
    if not isinstance(info, ServiceInfo):
        raise _RuntimeDecides
    roots = [t for m in info.methods.values() for t in (m.request_type, m.response_type)
             if t is not None and isinstance(t, type)]
    fields: dict[type, list[tuple[dataclasses.Field, Any]]] = {}
    types = _type_graph(roots, fields)
    hashes: dict[str, bytes] = {}
    for name in _hashing_order(types, fields):
        hashes[name] = compute_type_hash(bytes(encode("TypeDef", _type_json(types[name], hashes, fields))))
    scoped = "session" if getattr(info, "scoped", "shared") in ("session", "stream") else "shared"
    modes = _serialization_modes(info)
    contract = _contract_json(info, _MethodTypeHashes(hashes, compute_type_hash), modes, scoped)
    return Identity(compute_contract_id(bytes(encode("ServiceContract", contract))), hashes, len(info.methods),
                    modes, scoped)


def service_identity(service_cls: type) -> Identity:
    """The contract id and type hashes ``contract_id_from_service(service_cls)`` computes."""
    try:
        return fast_identity(service_cls)
    except Exception:  # whatever the runtime's pipeline decides, it decides by itself
        return _runtime_identity(service_cls)
