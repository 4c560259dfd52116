"""Build, write, load and validate contract manifests (``.aster/manifest.json``).

A manifest is the runtime's :class:`aster.contract.ContractManifest` written as
JSON: one object, or an array when a file holds several services. Everything
that decides identity comes from the runtime (``contract_id_from_service``, its
type graph and canonical encoding, its method descriptors), so the id we write
is the id a server computes at startup.

One addition the runtime tolerates: each method carries ``types``, the full
description of every message and enum its request and response reach (the
runtime's descriptors only describe the top-level fields). Typed clients and
``diff`` of nested types need it; the runtime ignores keys inside methods.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aster_core.errors import AsterError, NotFoundError, UsageError
from aster_core.files import atomic_write, read_text

from . import introspect

HEX64 = re.compile(r"^[0-9a-f]{64}$")
PATTERNS = ("unary", "server_stream", "client_stream", "bidi_stream")
SCOPES = ("shared", "session")
MANIFEST_KEYS = frozenset(
    "v service version contract_id canonical_encoding type_count type_hashes method_count methods "
    "serialization_modes scoped deprecated semver vcs_revision vcs_tag vcs_url changelog published_by "
    "published_at_epoch_ms".split())


@dataclass
class GenResult:
    """What ``contract gen`` produced: manifests plus warnings for the user."""

    manifests: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)


# ── Building ─────────────────────────────────────────────────────────────────


def _describe_type(tp: type) -> dict[str, Any]:
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
    return entry


def _method_types(service_cls: type) -> dict[str, list[dict[str, Any]]]:
    """For each method: every type its request and response reach, with the role(s) it plays."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, method in service_cls.__aster_service_info__.methods.items():
        req_type, resp_type = introspect.method_types(service_cls, method)
        request = introspect.reachable_from([req_type])
        response = introspect.reachable_from([resp_type])
        entries = []
        for tp in request + [t for t in response if t not in request]:
            entry = _describe_type(tp)
            entry["roles"] = [r for r, group in (("request", request), ("response", response)) if tp in group]
            entries.append(entry)
        out[name] = entries
    return out


def build_manifest(service_cls: type, *, semver: str | None = None,
                   vcs: dict[str, str | None] | None = None) -> dict[str, Any]:
    """The manifest of one ``@service`` class, as a JSON-ready dict."""
    from aster.contract import (ContractManifest, ServiceContract, build_type_graph, canonical_xlang_bytes,
                                compute_contract_id, compute_type_hash, contract_id_from_service,
                                resolve_with_cycles)
    from aster.contract.manifest import extract_method_descriptors

    info = service_cls.__aster_service_info__
    try:
        contract_id = contract_id_from_service(service_cls)
        roots = [t for m in info.methods.values() for t in (m.request_type, m.response_type)
                 if isinstance(t, type)]
        type_defs = resolve_with_cycles(build_type_graph(roots))
        hashes = {fqn: compute_type_hash(canonical_xlang_bytes(td)) for fqn, td in type_defs.items()}
        contract = ServiceContract.from_service_info(info, hashes)
        methods = extract_method_descriptors(info)
    except RecursionError:
        raise UsageError(f"{info.name}: the runtime cannot compute the identity of its recursive types",
                         "break the reference cycle in the message types") from None
    if compute_contract_id(canonical_xlang_bytes(contract)) != contract_id:
        raise AsterError(f"{info.name}: the runtime's contract pipeline gave two different ids",
                         "report this with the service definition; the installed aster-rpc may be inconsistent")
    nested = _method_types(service_cls)
    for method in methods:
        method["types"] = nested.get(method["name"], [])
    vcs = vcs or {}
    manifest = ContractManifest(
        service=contract.name,
        version=contract.version,
        contract_id=contract_id,
        type_count=len(type_defs),
        type_hashes=sorted(h.hex() for h in hashes.values()),
        method_count=len(contract.methods),
        methods=methods,
        serialization_modes=list(contract.serialization_modes),
        scoped=contract.scoped.name.lower(),
        semver=semver,
        vcs_revision=vcs.get("revision"),
        vcs_tag=vcs.get("tag"),
        vcs_url=vcs.get("url"),
    )
    return dataclasses.asdict(manifest)


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


def build_manifests(specs: list[str], *, semver: str | None = None) -> GenResult:
    """Manifests for ``MODULE:CLASS`` specs, with module-dependence warnings."""
    if not specs:
        raise UsageError("no service given", "pass --service MODULE:CLASS (repeatable)")
    vcs = vcs_info(Path.cwd())
    result = GenResult([])
    seen: dict[tuple[str, int], str] = {}
    for spec in specs:
        cls = introspect.load_service(spec)
        manifest = build_manifest(cls, semver=semver, vcs=vcs)
        key = (manifest["service"], manifest["version"])
        if key in seen:
            raise UsageError(f"{spec} and {seen[key]} are both {key[0]} v{key[1]}",
                             "a manifest holds each service version once")
        seen[key] = spec
        result.manifests.append(manifest)
        result.warnings += [f"{manifest['service']}: {d.message()}"
                            for d in introspect.module_dependent_types(cls)]
    return result


def manifest_text(manifests: list[dict[str, Any]]) -> str:
    doc: Any = manifests[0] if len(manifests) == 1 else manifests
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def write_manifests(manifests: list[dict[str, Any]], out: Path) -> Path:
    """Write atomically; the parent directory is created (``.aster/``)."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AsterError(f"cannot create {out.parent}: {exc.strerror or exc}", "choose another --out") from None
    return atomic_write(out, manifest_text(manifests), mode=0o644)


# ── Loading and validating ───────────────────────────────────────────────────


def read_json(path: Path, what: str) -> Any:
    raw = read_text(path, what)
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{what} {path} is not valid JSON (line {exc.lineno}: {exc.msg})",
                         "regenerate it with `aster contract gen` or `aster contract export`") from None


def _bad(source: str, problem: str) -> UsageError:
    return UsageError(f"{source}: {problem}", "regenerate it with `aster contract gen`")


def _check_fields(source: str, fields: Any) -> None:
    if not isinstance(fields, list) or not all(isinstance(f, dict) and isinstance(f.get("name"), str)
                                               for f in fields):
        raise _bad(source, "fields must be a list of objects with a name")


def validate_manifest(doc: Any, source: str) -> dict[str, Any]:
    """Check one manifest object the way the runtime will read it; returns it."""
    from aster.contract import ContractManifest

    if not isinstance(doc, dict):
        raise _bad(source, "a manifest must be a JSON object (or an array of them)")
    unknown = sorted(set(doc) - MANIFEST_KEYS)
    if unknown:
        raise _bad(source, f"unknown key(s) {', '.join(unknown)}: the runtime refuses to start with them")
    if not isinstance(doc.get("service"), str) or not doc["service"]:
        raise _bad(source, "missing service name")
    name = doc["service"]
    if not isinstance(doc.get("version"), int) or isinstance(doc.get("version"), bool):
        raise _bad(source, f"{name}: version must be an integer")
    if not isinstance(doc.get("contract_id"), str) or not HEX64.match(doc["contract_id"]):
        raise _bad(source, f"{name}: contract_id must be 64 lowercase hex characters")
    modes = doc.get("serialization_modes", [])
    if not isinstance(modes, list) or not all(isinstance(m, str) for m in modes):
        raise _bad(source, f"{name}: serialization_modes must be names like \"xlang\" (aster-cli 0.1.2 wrote integers)")
    if doc.get("scoped", "shared") not in SCOPES:
        raise _bad(source, f"{name}: scoped must be one of {', '.join(SCOPES)}")
    methods = doc.get("methods", [])
    if not isinstance(methods, list):
        raise _bad(source, f"{name}: methods must be a list")
    for method in methods:
        if not isinstance(method, dict) or not isinstance(method.get("name"), str):
            raise _bad(source, f"{name}: every method needs a name")
        if method.get("pattern", "unary") not in PATTERNS:
            raise _bad(source, f"{name}.{method['name']}: unknown pattern {method.get('pattern')!r}")
        _check_fields(source, method.get("fields", []))
        _check_fields(source, method.get("response_fields", []))
    try:
        ContractManifest(**doc)
    except TypeError as exc:
        raise _bad(source, f"{name}: {exc}") from None
    return doc


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

