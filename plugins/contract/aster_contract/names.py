"""Names from a contract that become identifiers in generated code, checked per language.

A contract is input from a stranger: a service, method, type, field or enum member name
reaches generated source only after :func:`check_names` accepted it for the target
language. Accepted names are plain ASCII identifiers (``[A-Za-z_][A-Za-z0-9_]*``);
type and service names may be dotted (a nested class's qualified name ``Outer.Inner``,
a namespaced service ``acme.Inventory``; services may also use ``-``) and become one
identifier with ``_``. Refused: keywords and reserved words, names the generated modules
themselves use (imports, helpers, the client's own members), names Python would mangle
(``__x``), and two names that end up as the same identifier. Every refusal is one
UsageError (exit 2) before any file is written.

Strings that are not identifiers (wire tags, namespaces, display names in docstrings
and comments) are never pasted raw: :func:`py_str` and :func:`ts_str` give literals of
the language and :func:`ts_comment` text that cannot end a comment.
"""

from __future__ import annotations

import json
import keyword
import re
from typing import Any, Iterable

from aster_core.errors import UsageError
from aster_core.text import whole_match

from .validate import quoted

#: matched whole (``aster_core.text.whole_match``): with ``re.match`` and ``$`` a name ending in a
#: newline passed as an identifier
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_SERVICE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*([.-][A-Za-z0-9_]+)*")

#: names the generated Python modules bind at module level or use inside class bodies
PY_MODULE_NAMES = frozenset(
    "annotations enum dataclass field Any Optional AsyncIterable AsyncIterator AsterClient SerializationMode "
    "bidi_stream client_stream rpc server_stream service BidiChannel CONTRACT_IDS list dict str int float "
    "bool bytes None".split())
#: members of a generated Python client class besides the service's methods
PY_CLIENT_MEMBERS = frozenset("connect close SERVICE VERSION CONTRACT_ID peer".split())
TS_RESERVED = frozenset(
    "break case catch class const continue debugger default delete do else enum export extends false finally "
    "for function if import in instanceof new null return super switch this throw true try typeof var void "
    "while with implements interface let package private protected public static yield any boolean number "
    "string symbol type from of as async await declare get set module namespace require readonly unknown "
    "never object bigint undefined keyof infer is asserts unique global abstract override satisfies".split())
#: global and imported types the generated TypeScript refers to
TS_MODULE_NAMES = frozenset(
    "Array Record Promise AsyncIterable AsyncIterator AsyncGenerator Uint8Array Symbol Object String Number "
    "Boolean AsterClientWrapper AsterTransport BidiChannel CallOptions TypedBidiChannel transportOf".split())
#: members of a generated TypeScript client class besides the service's methods
TS_CLIENT_MEMBERS = frozenset("constructor client transport service version contractId".split())


def _refuse(source: str, what: str, name: str, why: str) -> UsageError:
    return UsageError(f"{source}: {what} {quoted(name)} {why}",
                      "only plain identifiers (letters, digits, '_') can be generated; fix the contract at its source")


def type_identifier(name: str) -> str:
    """``Outer.Inner`` -> ``Outer_Inner`` (the name must already have passed :func:`check_names`)."""
    return name.replace(".", "_").replace("-", "_")


def check_names(manifests: list[dict[str, Any]], types: Iterable[Any], lang: str, source: str) -> None:
    """Refuse (UsageError) any name of ``manifests`` and ``types`` (schema TypeInfos) that
    cannot become an identifier in ``lang`` ("python" or "typescript")."""
    python = lang == "python"
    reserved_type = PY_MODULE_NAMES if python else TS_MODULE_NAMES | TS_RESERVED

    def member(what: str, name: Any, *, extra: frozenset[str] = frozenset()) -> None:
        if not whole_match(IDENT, name):
            raise _refuse(source, what, str(name), "is not an identifier")
        if python and (keyword.iskeyword(name) or name.startswith("__")):
            raise _refuse(source, what, name, "is a Python keyword or a mangled name")
        if name in extra:
            raise _refuse(source, what, name, "clashes with a name the generated code uses")

    top: dict[str, str] = {}

    def toplevel(what: str, ident: str, original: str) -> None:
        if ident in top:
            raise _refuse(source, what, original, f"gives the identifier {ident}, as {top[ident]} does")
        top[ident] = f"{what} {original}"

    type_names = set()
    for info in types:
        raw = info.source_name
        if not whole_match(_DOTTED, raw) or any(keyword.iskeyword(p) or p.startswith("__") for p in raw.split(".")):
            raise _refuse(source, "type", raw, "is not an identifier (or a dotted path of them)")
        if info.name in reserved_type:
            raise _refuse(source, "type", raw, "clashes with a name the generated code uses")
        toplevel("type", info.name, raw)
        type_names.add(info.name)
    field_extra = (PY_MODULE_NAMES | type_names) if python else frozenset()
    for info in types:
        for f in info.fields:
            if python:
                member(f"field of {info.source_name}", f.get("name"), extra=field_extra)
        for v in info.values:
            member(f"enum member of {info.source_name}", v.get("name"))
            if python and (v["name"].startswith("_") or v["name"] == "mro"):
                raise _refuse(source, f"enum member of {info.source_name}", v["name"], "is reserved by Python's enum")
    for manifest in manifests:
        svc = manifest["service"]
        if not whole_match(_SERVICE, svc) or keyword.iskeyword(svc) or svc.startswith("__"):
            raise _refuse(source, "service", svc, "is not an identifier (or a dotted path of them)")
        version = manifest.get("version", 1)
        base = type_identifier(svc) + ("" if version == 1 else f"V{version}")
        for suffix in (("Service", "Client") if python else ("Client",)):
            toplevel("service", base + suffix, svc)
            if base + suffix in reserved_type:
                raise _refuse(source, "service", svc, "clashes with a name the generated code uses")
        for method in manifest.get("methods", []):
            member(f"method of {svc}", method["name"], extra=PY_CLIENT_MEMBERS if python else TS_CLIENT_MEMBERS)


def py_str(text: Any) -> str:
    """A Python string literal of ``text`` (repr escapes quotes, backslashes, control characters)."""
    return repr(str(text))


def ts_str(text: Any) -> str:
    """A TypeScript string literal of ``text`` (JSON escapes, ASCII only: no line separators)."""
    return json.dumps(str(text), ensure_ascii=True)


def ts_comment(text: Any) -> str:
    """``text`` safe inside a ``/** ... */`` comment: one line, no ``*/``, printable ASCII."""
    out = json.dumps(str(text), ensure_ascii=True)[1:-1]
    return out.replace("*/", "*\\/").replace("/*", "/\\*")
