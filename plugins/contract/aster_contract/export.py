"""Portable contract exports (``<Service>.aster.json``) and verification against a manifest.

An export is a manifest reshaped for sharing (docs/file-formats.md): ``aster_contract``
format version ``"1"``, ``contract_id`` as ``blake3:<hex>``, methods sorted by
name and their fields sorted by name. Its type table (on the first method, each
type once, see :mod:`aster_contract.manifest`) describes every message in full,
request and response messages included, in declaration order, because typed
clients reproduce the messages from it and the sorted descriptors lose that order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aster_core.errors import AsterError, NotFoundError, UsageError
from aster_core.files import atomic_write
from aster_core.text import shown, whole_match

from .manifest import HEX64, load_manifest_file, manifest_text, read_json, type_table, validate_manifest
from .validate import quoted

FORMAT_VERSION = "1"
ID_PREFIX = "blake3:"
_SAFE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,127}")


def _sorted_method(method: dict[str, Any]) -> dict[str, Any]:
    out = dict(method)
    for key in ("fields", "response_fields"):
        if key in out:
            out[key] = sorted(out[key], key=lambda f: f["name"])
    return out


def export_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """The export document of one manifest (either layout; exports always hold the full table)."""
    table = list(type_table(manifest).values())
    methods = [_sorted_method(m) for m in sorted(manifest.get("methods", []), key=lambda m: m["name"])]
    for method in methods:
        method.pop("types", None)
    if methods:
        methods[0]["types"] = table
    return {
        "aster_contract": FORMAT_VERSION,
        "service": manifest["service"],
        "version": manifest["version"],
        "contract_id": ID_PREFIX + manifest["contract_id"],
        "canonical_encoding": manifest.get("canonical_encoding", "fory-xlang/0.15"),
        "scoped": manifest.get("scoped", "shared"),
        "serialization_modes": list(manifest.get("serialization_modes", [])),
        "methods": methods,
        "type_hashes": list(manifest.get("type_hashes", [])),
        "type_count": manifest.get("type_count", 0),
        "method_count": manifest.get("method_count", len(manifest.get("methods", []))),
        "semver": manifest.get("semver"),
        "deprecated": bool(manifest.get("deprecated", False)),
    }


def export_to_manifest(doc: dict[str, Any]) -> dict[str, Any]:
    """A manifest-shaped dict from an (already validated) export."""
    keys = ("service", "version", "canonical_encoding", "scoped", "serialization_modes", "methods",
            "type_hashes", "type_count", "method_count", "semver", "deprecated")
    manifest = {k: doc[k] for k in keys if k in doc}
    manifest["contract_id"] = doc["contract_id"][len(ID_PREFIX):]
    return manifest


def safe_service_name(name: str, source: str) -> str:
    if not whole_match(_SAFE_NAME, name):  # whole: "S\n" made a file name with a newline
        raise UsageError(f"{source}: service name {shown(name)} cannot be used as a file name",
                         "service names are letters, digits, '_', '.', '-'")
    return name


def validate_export(doc: Any, source: str) -> dict[str, Any]:
    """Check an export document; returns it."""
    if not isinstance(doc, dict) or "aster_contract" not in doc:
        raise UsageError(f"{source} is not a contract export (no aster_contract key)",
                         "create one with `aster contract export --manifest .aster/manifest.json -o DIR`")
    if doc["aster_contract"] != FORMAT_VERSION:
        raise UsageError(f"{source}: unsupported aster_contract version {quoted(doc['aster_contract'])}",
                         f"this aster reads version {FORMAT_VERSION!r}; re-export it with this aster")
    cid = doc.get("contract_id")
    if not isinstance(cid, str) or not cid.startswith(ID_PREFIX) or not whole_match(HEX64, cid[len(ID_PREFIX):]):
        raise UsageError(f"{source}: contract_id must be blake3:<64 hex>", "re-export the contract")
    if not isinstance(doc.get("service"), str):
        raise UsageError(f"{source}: missing service name", "re-export the contract")
    safe_service_name(doc["service"], source)
    validate_manifest(export_to_manifest(doc), source)
    return doc


def load_contract_file(path: Path) -> list[dict[str, Any]]:
    """Manifest-shaped dicts from a manifest (object or array) or an export file."""
    doc = read_json(path, "contract file")
    if isinstance(doc, dict) and "aster_contract" in doc:
        return [export_to_manifest(validate_export(doc, str(path)))]
    return load_manifest_file(path)


def load_export(path: Path) -> dict[str, Any]:
    return validate_export(read_json(path, "export"), str(path))


def export_file_name(manifest: dict[str, Any], clash: bool) -> str:
    name = safe_service_name(manifest["service"], "manifest")
    return f"{name}.v{manifest['version']}.aster.json" if clash else f"{name}.aster.json"


def is_export_document(doc: Any) -> bool:
    """True for what ``contract export`` writes (only such a file is replaced without --force)."""
    return isinstance(doc, dict) and "aster_contract" in doc and "service" in doc


def write_exports(manifest_path: Path, out_dir: Path, *, force: bool = False) -> list[dict[str, Any]]:
    """Export every service of a manifest file into ``out_dir``; returns what was written.

    An existing ``<Service>.aster.json`` is replaced only when it is an export (or ``force``);
    every target is checked before the first is written.
    """
    import json

    from .outputs import json_file_is, refuse_to_replace

    manifests = load_manifest_file(manifest_path)
    names = [m["service"] for m in manifests]
    documents = [(export_file_name(m, names.count(m["service"]) > 1), export_manifest(m)) for m in manifests]
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"{out_dir} is not a directory", "pass a directory to -o")
    for file_name, _ in documents:
        target = out_dir / file_name
        if target.is_dir():
            raise UsageError(f"{target} is a directory", "choose another -o directory")
        refuse_to_replace(target, force=force, ours=lambda p: json_file_is(p, is_export_document),
                          what="a contract export")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AsterError(f"cannot create {out_dir}: {exc.strerror or exc}", "choose another -o directory") from None
    written = []
    for file_name, doc in documents:
        path = atomic_write(out_dir / file_name, manifest_text([doc]), mode=0o644)
        written.append({"service": doc["service"], "version": doc["version"],
                        "contract_id": doc["contract_id"], "path": str(path)})
    return written


# ── Verification ─────────────────────────────────────────────────────────────


@dataclass
class VerifyResult:
    service: str
    version: int
    export_id: str
    manifest_id: str
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def as_dict(self) -> dict[str, Any]:
        return {"service": self.service, "version": self.version, "match": self.ok,
                "export_contract_id": self.export_id, "manifest_contract_id": self.manifest_id,
                "differences": self.differences}


def verify_export(export_path: Path, manifest_path: Path) -> VerifyResult:
    """Compare an export with the service of the same name and version in a manifest."""
    from .diff import diff_contracts

    exported = export_to_manifest(load_export(export_path))
    manifests = load_manifest_file(manifest_path)
    same_name = [m for m in manifests if m["service"] == exported["service"]]
    if not same_name:
        available = ", ".join(sorted({m["service"] for m in manifests}))
        raise NotFoundError(f"service {exported['service']!r} is not in {manifest_path}",
                            f"the manifest holds: {available}")
    local = next((m for m in same_name if m["version"] == exported["version"]), same_name[0])
    result = VerifyResult(exported["service"], exported["version"], exported["contract_id"], local["contract_id"])
    if exported["contract_id"] != local["contract_id"]:
        result.differences.append(
            f"contract id differs: export {exported['contract_id'][:16]}…, manifest {local['contract_id'][:16]}…")
        result.differences += [c.describe() for c in diff_contracts([local], [exported]).changes
                               if c.kind != "contract_changed"]
    elif export_manifest(local) != export_manifest(exported):
        result.differences.append("same contract id, but the method descriptions differ "
                                  "(re-export from the current manifest)")
    return result
