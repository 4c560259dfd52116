"""Deep validation of contract documents: every field of every manifest, method, field descriptor
and type entry has the JSON type (and range) the runtime and our generators expect.

A manifest is input from a stranger (a committed file, an export someone sent, a live producer),
so nothing reads a key of it before :func:`check_manifest` has checked it: strings are strings,
integers are integers in range (never bool, never thousands of digits), floats are finite, lists
hold what they must. Unknown keys inside methods, fields and types are tolerated (the runtime
ignores them there) but never read. Identifiers are checked later, per target language, by the
client generators (:mod:`aster_contract.names`).
"""

from __future__ import annotations

import math
import re
from typing import Any

from aster_core.errors import UsageError
from aster_core.text import control_in, whole_match

HEX64 = re.compile(r"[0-9a-f]{64}")  # matched whole (aster_core.text.whole_match)
PATTERNS = ("unary", "server_stream", "client_stream", "bidi_stream")
SCOPES = ("shared", "session")
FIELD_KINDS = ("string", "int", "float", "bool", "bytes", "list", "map", "enum", "ref")
DEFAULT_KINDS = ("none", "value", "empty_list", "empty_map", "factory")
SERIALIZATION_MODES = ("xlang", "native", "row", "json")
ROLES = ("request", "response")
MAX_VERSION = 2**31 - 1
MAX_INT = 2**63 - 1       # the wire's int64: larger integers are no value any field can hold
MAX_NAME = 256
MANIFEST_KEYS = frozenset(
    "v service version contract_id canonical_encoding type_count type_hashes method_count methods "
    "serialization_modes scoped deprecated semver vcs_revision vcs_tag vcs_url changelog published_by "
    "published_at_epoch_ms".split())
#: line and paragraph separators: not control characters, but they end a line in JavaScript
#: sources and in many terminals, and names become identifiers and comments in generated code
_SEPARATORS = re.compile("[\u2028\u2029]")
HINT = "regenerate it with `aster contract gen` (or re-export it with `aster contract export`)"


class _Checker:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> UsageError:
        return UsageError(f"{self.source}: {where} {problem}", HINT)

    def int_(self, where: str, value: Any, lo: int = 0, hi: int = MAX_INT) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(where, f"must be an integer, not {_json_type(value)}")
        if not lo <= value <= hi:
            raise self.fail(where, f"must be between {lo} and {hi}")
        return value

    def str_(self, where: str, value: Any, *, empty: bool = True, name: bool = False) -> str:
        if not isinstance(value, str):
            raise self.fail(where, f"must be a string, not {_json_type(value)}")
        if not empty and not value:
            raise self.fail(where, "must not be empty")
        if name and (len(value) > MAX_NAME or control_in(value) or _SEPARATORS.search(value)):
            raise self.fail(where, f"must be a name of at most {MAX_NAME} printable characters")
        return value

    def opt_str(self, where: str, value: Any) -> None:
        if value is not None:
            self.str_(where, value)

    def bool_(self, where: str, value: Any) -> None:
        if not isinstance(value, bool):
            raise self.fail(where, f"must be true or false, not {_json_type(value)}")

    def one_of(self, where: str, value: Any, choices: tuple[str, ...]) -> None:
        if not isinstance(value, str) or value not in choices:
            raise self.fail(where, f"must be one of {', '.join(choices)} (got {quoted(value)})")

    def list_(self, where: str, value: Any) -> list:
        if not isinstance(value, list):
            raise self.fail(where, f"must be a list, not {_json_type(value)}")
        return value

    def obj(self, where: str, value: Any) -> dict:
        if not isinstance(value, dict):
            raise self.fail(where, f"must be an object, not {_json_type(value)}")
        return value

    def scalar(self, where: str, value: Any) -> None:
        """A default or enum value: null, bool, string, int64 or finite float."""
        if value is None or isinstance(value, (bool, str)):
            return
        if isinstance(value, int):
            self.int_(where, value, -MAX_INT - 1)
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise self.fail(where, "must be a finite number")
        else:
            raise self.fail(where, f"must be a string, number, boolean or null, not {_json_type(value)}")

    # ── the documents ───────────────────────────────────────────────────────

    def field(self, where: str, f: Any) -> None:
        f = self.obj(where, f)
        self.str_(f"{where}.name", f.get("name"), empty=False, name=True)
        self.one_of(f"{where}.kind", f.get("kind", "string"), FIELD_KINDS)
        for key in ("nullable", "required", "item_nullable", "value_nullable"):
            if key in f:
                self.bool_(f"{where}.{key}", f[key])
        if "default_kind" in f:
            self.one_of(f"{where}.default_kind", f["default_kind"], DEFAULT_KINDS)
        if "default_value" in f:
            self.scalar(f"{where}.default_value", f["default_value"])
        for key in ("item_kind", "value_kind"):
            if f.get(key) is not None:
                self.one_of(f"{where}.{key}", f[key], FIELD_KINDS)
        if f.get("key_kind") is not None:
            self.one_of(f"{where}.key_kind", f["key_kind"], FIELD_KINDS[:5])
        for key in ("ref_name", "wire_tag", "item_ref", "item_wire_tag", "value_ref"):
            if f.get(key) is not None:
                self.str_(f"{where}.{key}", f[key], name=True)
        if "enum_values" in f:
            for i, v in enumerate(self.list_(f"{where}.enum_values", f["enum_values"])):
                self.scalar(f"{where}.enum_values[{i}]", v)
        if "properties" in f:
            self.obj(f"{where}.properties", f["properties"])

    def fields(self, where: str, value: Any) -> None:
        seen: set[str] = set()
        for i, f in enumerate(self.list_(where, value)):
            self.field(f"{where}[{i}]", f)
            if f["name"] in seen:
                raise self.fail(f"{where}[{i}].name", f"{f['name']!r} appears twice")
            seen.add(f["name"])

    def type_entry(self, where: str, t: Any) -> None:
        t = self.obj(where, t)
        self.str_(f"{where}.wire_tag", t.get("wire_tag"), empty=False, name=True)
        for key in ("name", "namespace", "typename"):
            if key in t:
                self.str_(f"{where}.{key}", t[key], name=True)
        kind = t.get("kind", "message")
        self.one_of(f"{where}.kind", kind, ("message", "enum"))
        if "fields" in t:
            self.fields(f"{where}.fields", t["fields"])
        if "values" in t:
            for i, v in enumerate(self.list_(f"{where}.values", t["values"])):
                v = self.obj(f"{where}.values[{i}]", v)
                self.str_(f"{where}.values[{i}].name", v.get("name"), empty=False, name=True)
                value = v.get("value")
                if isinstance(value, bool) or not isinstance(value, (int, str)):
                    raise self.fail(f"{where}.values[{i}].value", "must be an integer or a string")
                self.scalar(f"{where}.values[{i}].value", value)
        if "base" in t:
            self.one_of(f"{where}.base", t["base"], ("int", "str", ""))
            want = {"int": int, "str": str}.get(t["base"])
            if want and any(not isinstance(v["value"], want) or isinstance(v["value"], bool)
                            for v in t.get("values", [])):
                raise self.fail(f"{where}.values", f"of a {t['base']} enum must all be {t['base']}s")
        if "roles" in t:
            for i, r in enumerate(self.list_(f"{where}.roles", t["roles"])):
                self.one_of(f"{where}.roles[{i}]", r, ROLES)

    def method(self, where: str, m: Any) -> None:
        m = self.obj(where, m)
        self.str_(f"{where}.name", m.get("name"), empty=False, name=True)
        where = f"method {m['name']}"
        self.one_of(f"{where}: pattern", m.get("pattern", "unary"), PATTERNS)
        for key in ("request_type", "response_type", "request_wire_tag", "response_wire_tag"):
            if m.get(key) is not None:
                self.str_(f"{where}: {key}", m[key], name=True)
        timeout = m.get("timeout")
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
                    or not math.isfinite(timeout) or not 0 <= timeout <= 10**9:
                raise self.fail(f"{where}: timeout", "must be null or a number of seconds (0 to 1e9)")
        if "idempotent" in m:
            self.bool_(f"{where}: idempotent", m["idempotent"])
        self.fields(f"{where}: fields", m.get("fields", []))
        self.fields(f"{where}: response_fields", m.get("response_fields", []))
        for i, t in enumerate(self.list_(f"{where}: types", m.get("types", []))):
            self.type_entry(f"{where}: types[{i}]", t)


def check_manifest(doc: Any, source: str) -> dict[str, Any]:
    """Check one manifest object key by key (see the module docstring); returns it."""
    c = _Checker(source)
    if not isinstance(doc, dict):
        raise c.fail("a manifest", "must be a JSON object (or an array of them)")
    unknown = sorted(set(doc) - MANIFEST_KEYS)
    if unknown:
        raise c.fail("unknown key(s)", f"{', '.join(quoted(k) for k in unknown[:5])}: the runtime refuses to start with them")
    if "service" not in doc:
        raise c.fail("the manifest", "has no service name")
    name = c.str_("service", doc["service"], empty=False, name=True)
    c.source = f"{source}: {name}"
    if "version" not in doc:
        raise c.fail("version", "is missing")
    c.int_("version", doc["version"], 0, MAX_VERSION)
    if not whole_match(HEX64, doc.get("contract_id")):
        raise c.fail("contract_id", "must be 64 lowercase hex characters")
    if "v" in doc:
        c.int_("v", doc["v"], 0, MAX_VERSION)
    for key in ("type_count", "method_count"):
        if key in doc:
            c.int_(key, doc[key], 0, MAX_VERSION)
    if "published_at_epoch_ms" in doc:
        c.int_("published_at_epoch_ms", doc["published_at_epoch_ms"])
    for key in ("canonical_encoding", "published_by"):
        if key in doc:
            c.str_(key, doc[key])
    for key in ("semver", "vcs_revision", "vcs_tag", "vcs_url", "changelog"):
        c.opt_str(key, doc.get(key))
    if "deprecated" in doc:
        c.bool_("deprecated", doc["deprecated"])
    for i, h in enumerate(c.list_("type_hashes", doc.get("type_hashes", []))):
        if not whole_match(HEX64, h):
            raise c.fail(f"type_hashes[{i}]", "must be 64 lowercase hex characters")
    modes = c.list_("serialization_modes", doc.get("serialization_modes", []))
    for i, mode in enumerate(modes):
        if not isinstance(mode, str):
            raise c.fail(f"serialization_modes[{i}]", 'must be a name like "xlang" (aster-cli 0.1.2 wrote integers)')
        c.one_of(f"serialization_modes[{i}]", mode, SERIALIZATION_MODES)
    c.one_of("scoped", doc.get("scoped", "shared"), SCOPES)
    seen: set[str] = set()
    for i, method in enumerate(c.list_("methods", doc.get("methods", []))):
        c.method(f"methods[{i}]", method)
        if method["name"] in seen:
            raise c.fail(f"method {method['name']}", "appears twice")
        seen.add(method["name"])
    return doc


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "an object"}.get(type(value), type(value).__name__)


def quoted(value: Any) -> str:
    """``repr(value)`` cut to 40 characters, for naming a stranger's value in an error."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
