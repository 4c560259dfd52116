"""Build, write, load and validate contract manifests (``.aster/manifest.json``).

A manifest is the runtime's :class:`aster.contract.ContractManifest` written as
JSON: one object, or an array when a file holds several services. Everything
that decides identity comes from the runtime (its type graph, canonical encoding,
type hashes and ``ServiceContract``, composed exactly as
``aster.contract.contract_id_from_service`` composes them, but run once: each type
is resolved and hashed once), so the id we write is the id a server computes at
startup.

One addition the runtime tolerates: a table of every message and enum the
service's methods reach (the runtime's descriptors describe only the top-level
request and response fields). Typed clients and ``diff`` of nested types need
it. The runtime refuses unknown top-level keys but ignores keys inside methods,
so the table is the ``types`` list of the first method, and each type appears in
it once per manifest (roles: where it is used anywhere in the service). A request
or response message whose method descriptor already says everything about it
(its fields in declaration order, its name, a ``namespace/typename`` wire tag) is
not repeated there. Manifests written before (one ``types`` list per method,
repeating shared types) read the same: :func:`type_table` merges both layouts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from aster_core.errors import AsterError, NotFoundError, UsageError
from aster_core.files import atomic_write, read_text

from . import introspect
from .hints import installed
from .identity import service_identity
from .validate import HEX64, MANIFEST_KEYS, MAX_VERSION, PATTERNS, SCOPES, check_manifest  # noqa: F401

ROLES = ("request", "response")


@dataclass
class GenResult:
    """What ``contract gen`` produced: manifests plus warnings for the user."""

    manifests: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)


# ── Building ─────────────────────────────────────────────────────────────────


def _describe_type(tp: type, roles: set[str]) -> dict[str, Any]:
    from aster.contract.manifest import build_field_v1

    tag, namespace, typename = introspect.wire_names(tp)
    entry: dict[str, Any] = {"name": tp.__qualname__, "wire_tag": tag, "namespace": namespace,
                             "typename": typename}
    if dataclasses.is_dataclass(tp):
        hints = introspect._hints(tp)
        entry["kind"] = "message"
        entry["fields"] = [build_field_v1(f, hints.get(f.name, f.type)) for f in dataclasses.fields(tp)]
    else:
        entry["kind"] = "enum"
        entry["base"] = "int" if issubclass(tp, int) else "str" if issubclass(tp, str) else ""
        entry["values"] = [{"name": m.name, "value": m.value} for m in tp]
    entry["roles"] = [r for r in ROLES if r in roles]
    return entry


def split_tag(tag: str) -> tuple[str, str]:
    """``"ns/Name"`` -> ``("ns", "Name")``; a tag without ``/`` has an empty namespace."""
    if "/" in tag:
        namespace, typename = tag.rsplit("/", 1)
        return namespace, typename
    return "", tag


def _roots(methods: list[dict[str, Any]]) -> dict[str, tuple[str, list[dict[str, Any]], set[str]]]:
    """Request/response messages as the method descriptors describe them:
    wire tag -> (type name, fields, roles). The first descriptor of a tag wins."""
    out: dict[str, tuple[str, list[dict[str, Any]], set[str]]] = {}
    for m in methods:
        for role, tag_key, name_key, fields_key in (("request", "request_wire_tag", "request_type", "fields"),
                                                   ("response", "response_wire_tag", "response_type",
                                                    "response_fields")):
            tag = m.get(tag_key)
            if tag:
                entry = out.setdefault(tag, (m.get(name_key) or tag, m.get(fields_key) or [], set()))
                entry[2].add(role)
    return out


def _lean_table(types: dict[type, set[str]], methods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The manifest's one type table: each type once, minus what the descriptors already say."""
    roots = _roots(methods)
    table = []
    for tp, roles in types.items():
        entry = _describe_type(tp, roles)
        root = roots.get(entry["wire_tag"])
        if (root is not None and entry["kind"] == "message" and root[0] == entry["name"]
                and split_tag(entry["wire_tag"]) == (entry["namespace"], entry["typename"])
                and root[1] == entry["fields"] and root[2] == roles):
            continue  # the method descriptor describes it completely
        table.append(entry)
    return table


def build_manifest(service_cls: type, *, semver: str | None = None,
                   vcs: dict[str, str | None] | None = None,
                   types: dict[type, set[str]] | None = None) -> dict[str, Any]:
    """The manifest of one ``@service`` class, as a JSON-ready dict (``types``: the service's
    reachable types with their roles, from :func:`introspect.service_types`, when known)."""
    from aster.contract import ContractManifest
    from aster.contract.manifest import extract_method_descriptors

    info = service_cls.__aster_service_info__
    if isinstance(info.version, bool) or not isinstance(info.version, int) or not 0 <= info.version <= MAX_VERSION:
        raise UsageError(f"{info.name}: version {info.version!r} is not an integer from 0 to {MAX_VERSION}",
                         "declare the service with @service(version=N), N a small whole number")
    try:
        ident = service_identity(service_cls)
        with installed():  # the runtime's descriptors resolve each message's hints again
            methods = extract_method_descriptors(info)
        if types is None:
            types = introspect.service_types(service_cls)
    except RecursionError:
        raise UsageError(f"{info.name}: the runtime cannot compute the identity of its recursive types",
                         "break the reference cycle in the message types") from None
    if methods:
        methods[0]["types"] = _lean_table(types, methods)
    vcs = vcs or {}
    manifest = ContractManifest(
        service=info.name,
        version=info.version,
        contract_id=ident.contract_id,
        type_count=len(ident.type_hashes),
        type_hashes=sorted(h.hex() for h in ident.type_hashes.values()),
        method_count=ident.method_count,
        methods=methods,
        serialization_modes=ident.serialization_modes,
        scoped=ident.scoped,
        semver=semver,
        vcs_revision=vcs.get("revision"),
        vcs_tag=vcs.get("tag"),
        vcs_url=vcs.get("url"),
    )
    # the fields as they are (not dataclasses.asdict: that deep-copies every method descriptor)
    return {f.name: getattr(manifest, f.name) for f in dataclasses.fields(manifest)}


def type_table(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every message and enum a (validated) manifest describes, by wire tag, in order.

    Reads both layouts: one table on the first method (each type once) or a ``types`` list on
    every method (older manifests, shared types repeated); roles are merged. Request and
    response messages the table leaves out, or lists without fields, are completed from the
    method descriptors. Entries are new dicts (the manifest is not changed).
    """
    table: dict[str, dict[str, Any]] = {}
    for method in manifest.get("methods", []):
        for t in method.get("types", []):
            have = table.get(t["wire_tag"])
            if have is None:
                table[t["wire_tag"]] = dict(t, roles=list(t.get("roles") or ()))
            else:
                have["roles"] = [r for r in ROLES if r in have["roles"] or r in (t.get("roles") or ())]
    for tag, (name, fields, roles) in _roots(manifest.get("methods", [])).items():
        have = table.get(tag)
        if have is None:
            namespace, typename = split_tag(tag)
            table[tag] = {"name": name, "wire_tag": tag, "namespace": namespace, "typename": typename,
                          "kind": "message", "fields": list(fields), "roles": [r for r in ROLES if r in roles]}
        elif have.get("kind", "message") == "message" and "fields" not in have:
            have["fields"] = list(fields)
    return table


def vcs_info(where: Path) -> dict[str, str | None]:
    """Revision, exact tag and origin URL of the git checkout at ``where`` (all None outside one)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=where, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() or None if done.returncode == 0 else None

    return {"revision": git("rev-parse", "HEAD"),
            "tag": git("describe", "--tags", "--exact-match"),
            "url": git("config", "--get", "remote.origin.url")}


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection within the block, and none of what it made afterwards.

    Importing a service of 1,000 methods creates some 2,000 classes with their functions and
    annotations, and describing it some 100,000 dicts and lists, nearly all of it kept (the
    service's module stays imported; the manifests are written, then the command ends): every
    automatic collection walks all of it again and frees next to nothing (with the collector
    on: 293 young, 26 middle and 2 full collections at 1,000 methods). On leaving, what the
    block made is moved out of the collector's reach (``gc.freeze``), so no collection walks
    it later either; the collector is then restored to what it was.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def build_manifests(specs: list[str], *, semver: str | None = None) -> GenResult:
    """Manifests for ``MODULE:CLASS`` specs, with module-dependence warnings."""
    if not specs:
        raise UsageError("no service given", "pass --service MODULE:CLASS (repeatable)")
    vcs = vcs_info(Path.cwd())
    result = GenResult([])
    seen: dict[tuple[str, int], str] = {}
    # the runtime's @service check resolves each message's hints once per field: see hints.py
    with installed(), collector_paused():
        for spec in specs:
            cls = introspect.load_service(spec)
            types = introspect.service_types(cls)
            manifest = build_manifest(cls, semver=semver, vcs=vcs, types=types)
            key = (manifest["service"], manifest["version"])
            if key in seen:
                raise UsageError(f"{spec} and {seen[key]} are both {key[0]} v{key[1]}",
                                 "a manifest holds each service version once")
            seen[key] = spec
            result.manifests.append(manifest)
            result.warnings += [f"{manifest['service']}: {d.message()}"
                                for d in introspect.module_dependent_types(cls, list(types))]
    return result


_encode = json.JSONEncoder(ensure_ascii=False).encode   # one encoder (C) for every leaf


def _dump(value: Any, indent: str) -> str:
    """JSON for people and for ``git diff``: objects and lists one item per line, but a field
    descriptor, an enum value or a short list on one line (the C encoder writes those)."""
    if isinstance(value, dict) and value and not _flat(value):
        inner = indent + "  "
        items = [f"{inner}{_encode(k)}: {_dump(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and value:
        if all(not isinstance(v, (dict, list)) or not v for v in value):
            flat = _encode(value)
            if len(flat) <= 72:
                return flat
        inner = indent + "  "
        return "[\n" + ",\n".join(inner + _dump(v, inner) for v in value) + "\n" + indent + "]"
    return _encode(value)


def _flat(obj: dict[str, Any]) -> bool:
    """An object written on one line: no nested object or list except empty ones and short lists
    of scalars (a field descriptor: its ``enum_values``, its empty ``properties``)."""
    for v in obj.values():
        if isinstance(v, dict) and v:
            return False
        if isinstance(v, list) and any(isinstance(x, (dict, list)) for x in v):
            return False
    return "fields" not in obj and "methods" not in obj


def manifest_text(manifests: list[dict[str, Any]]) -> str:
    doc: Any = manifests[0] if len(manifests) == 1 else manifests
    return _dump(doc, "") + "\n"


def check_manifest_target(out: Path, force: bool) -> None:
    """Before any work: ``out`` must be a file path whose current content (if any) is a manifest,
    unless ``force``."""
    from .outputs import json_file_is, refuse_to_replace

    if out.is_dir():
        raise UsageError(f"--out {out} is a directory", f"pass a file path such as {out / 'manifest.json'}")
    refuse_to_replace(out, force=force, ours=lambda p: json_file_is(p, is_manifest_document),
                      what="a contract manifest")


def write_manifests(manifests: list[dict[str, Any]], out: Path) -> Path:
    """Write atomically; the parent directory is created (``.aster/``)."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AsterError(f"cannot create {out.parent}: {exc.strerror or exc}", "choose another --out") from None
    return atomic_write(out, manifest_text(manifests), mode=0o644)


# ── Loading and validating ───────────────────────────────────────────────────


def read_json(path: Path, what: str) -> Any:
    """The JSON document in a file a user named; anything that is not plain JSON data (invalid
    syntax, nesting too deep to read, integers of thousands of digits, NaN or Infinity) is a
    UsageError naming the file."""
    return parse_json(read_text(path, what), f"{what} {path}")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(raw: str, what: str) -> Any:
    hint = "regenerate it with `aster contract gen` or `aster contract export`"
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{what} is not valid JSON (line {exc.lineno}: {exc.msg})", hint) from None
    except RecursionError:
        raise UsageError(f"{what} is nested too deeply to be a contract", hint) from None
    except ValueError as exc:  # int digits limit, NaN/Infinity
        problem = "holds an integer too large to be a contract value" if "digits" in str(exc) else str(exc)
        raise UsageError(f"{what} {problem}", hint) from None


def _bad(source: str, problem: str) -> UsageError:
    return UsageError(f"{source}: {problem}", "regenerate it with `aster contract gen`")


def validate_manifest(doc: Any, source: str) -> dict[str, Any]:
    """Check one manifest object, every field of it, the way the runtime and our generators
    read it (:func:`aster_contract.validate.check_manifest`); returns it."""
    from aster.contract import ContractManifest

    check_manifest(doc, source)
    try:
        ContractManifest(**doc)
    except TypeError as exc:
        raise _bad(source, f"{doc['service']}: {exc}") from None
    return doc


def is_manifest_document(doc: Any) -> bool:
    """True for what ``contract gen`` writes (a manifest object, or a non-empty array of them):
    only such a file may be replaced without ``--force``."""
    items = doc if isinstance(doc, list) and doc else [doc]
    return all(isinstance(m, dict) and m and set(m) <= MANIFEST_KEYS and "service" in m and "contract_id" in m
               for m in items)


def load_manifest_file(path: Path) -> list[dict[str, Any]]:
    """The manifests in a manifest file (object or array), validated."""
    doc = read_json(path, "manifest")
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        raise _bad(str(path), "the manifest array is empty")
    return [validate_manifest(item, str(path)) for item in items]


def select_service(manifests: list[dict[str, Any]], name: str | None, source: str) -> list[dict[str, Any]]:
    """Only the manifests of service ``name`` (all when ``name`` is None)."""
    if name is None:
        return manifests
    chosen = [m for m in manifests if m["service"] == name]
    if not chosen:
        available = ", ".join(sorted({m["service"] for m in manifests}))
        raise NotFoundError(f"service {name!r} is not in {source}", f"available: {available}")
    return chosen


def field_type_text(f: dict[str, Any]) -> str:
    """A short human spelling of a v1 field's type (``list<Item>``, ``string?``)."""
    kind = f.get("kind", "string")
    if kind == "list":
        text = f"list<{f.get('item_ref') or f.get('item_kind', 'string')}>"
    elif kind == "map":
        text = f"map<{f.get('key_kind', 'string')}, {f.get('value_ref') or f.get('value_kind', 'string')}>"
    elif kind in ("ref", "enum"):
        text = f.get("ref_name") or kind
    else:
        text = kind
    return text + ("?" if f.get("nullable") else "")

