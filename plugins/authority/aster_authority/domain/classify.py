"""A proposal's digest and classification, from :func:`aster_contract.diff.diff_contracts`.

- digest: BLAKE3 of the canonical JSON (sorted keys, no whitespace, UTF-8) of the manifests
  sorted by (service, version), as ``blake3:<hex>``;
- **update**: every change is compatible for callers; **migration**: at least one breaking
  change. The plan lists each change (``Change`` as a dict) and the breaking ones count.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import Refusal
from .plans import MIGRATION, UPDATE

MAX_MANIFESTS = 64


def canonical(manifests: list[dict[str, Any]]) -> bytes:
    ordered = sorted(manifests, key=lambda m: (str(m.get("service")), int(m.get("version", 1))))
    return json.dumps(ordered, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def digest(manifests: list[dict[str, Any]]) -> str:
    import blake3

    return "blake3:" + blake3.blake3(canonical(manifests)).hexdigest()


def check_manifests(manifests: Any, field_name: str = "manifests") -> list[dict[str, Any]]:
    """Each manifest checked key by key as the runtime reads it (the contract family's checker);
    a problem is a Refusal naming the field."""
    from aster_core.errors import UsageError

    from aster_contract.validate import check_manifest

    if not isinstance(manifests, list) or not manifests:
        raise Refusal("invalid", f"{field_name}: must be a non-empty list of manifests",
                      "apply a manifest made by `aster contract gen`", field=field_name, exit_code=2)
    if len(manifests) > MAX_MANIFESTS:
        raise Refusal("invalid", f"{field_name}: {len(manifests)} manifests (at most {MAX_MANIFESTS})",
                      "split the deployment", field=field_name, exit_code=2)
    seen = set()
    for i, m in enumerate(manifests):
        where = f"{field_name}[{i}]"
        try:
            check_manifest(m, where)
        except UsageError as exc:
            raise Refusal("invalid", exc.message, exc.hint, field=where, exit_code=2) from None
        key = (m["service"], m.get("version", 1))
        if key in seen:
            raise Refusal("invalid", f"{where}: {key[0]} v{key[1]} appears twice", "give each service version once",
                          field=where, exit_code=2)
        seen.add(key)
    return manifests


@dataclass
class Classification:
    classification: str
    changes: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def breaking(self) -> list[dict[str, Any]]:
        return [c for c in self.changes if not c["compatible"]]


def classify(desired: list[dict[str, Any]], proposal: list[dict[str, Any]]) -> Classification:
    """Update or migration, from the desired manifests to the proposal's."""
    from aster_contract.diff import diff_contracts

    result = diff_contracts(desired, proposal)
    changes = [asdict(c) for c in result.changes]
    warnings = []
    if not desired:
        warnings.append("first contract of this deployment: every service is new")
    if not changes:
        warnings.append("no change visible to callers (metadata only)")
    removed = [c["service"] for c in changes if c["kind"] == "service_removed"]
    if removed:
        warnings.append(f"services removed: {', '.join(removed)}")
    return Classification(MIGRATION if result.breaking else UPDATE, changes, warnings)
