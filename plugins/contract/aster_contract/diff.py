"""What changed between two contracts, and whether it breaks callers.

API (used by ``aster contract diff`` and by deployment plans to choose between
an in-place update and a migration)::

    from aster_contract.diff import diff_contracts
    result = diff_contracts(old_manifests, new_manifests)   # lists of manifest dicts
    result.breaking            # True when any change breaks existing callers
    result.changes             # [Change(service, method, field, kind, compatible, detail)]

Inputs are manifest-shaped dicts (what :func:`aster_contract.export.load_contract_file`
returns for a manifest or an export). Services are matched by name.

Classification (callers built against OLD keep working => compatible):

- compatible: new service, new method, new optional request field, any new
  response field, a request field becoming optional, a new enum value, a
  changed timeout or idempotency flag;
- breaking: removed service or method, changed version, pattern, scope or
  serialization modes, a request/response type replaced by another wire type,
  a field removed or retyped, a new required request field, an optional request
  field becoming required, a removed enum value. A changed contract id with no
  visible difference is reported as ``contract_changed`` and treated as breaking
  (the runtime sees a different interface we cannot explain).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

INPUT, OUTPUT = "request", "response"


@dataclass(frozen=True)
class Change:
    """One difference. ``method``/``field`` are None when the change is above them."""

    service: str
    method: str | None
    field: str | None
    kind: str
    compatible: bool
    detail: str

    def describe(self) -> str:
        where = ".".join(p for p in (self.service, self.method, self.field) if p)
        return f"{'compatible' if self.compatible else 'BREAKING'}  {where}: {self.detail}"


@dataclass
class ContractDiff:
    changes: list[Change] = field(default_factory=list)

    @property
    def breaking(self) -> bool:
        """True when at least one change breaks existing callers."""
        return any(not c.compatible for c in self.changes)

    @property
    def breaking_changes(self) -> list[Change]:
        return [c for c in self.changes if not c.compatible]

    def as_dict(self) -> dict[str, Any]:
        return {"breaking": self.breaking, "changes": [asdict(c) for c in self.changes]}


def _field_signature(f: dict[str, Any]) -> tuple:
    """Everything about a field's type that the wire depends on (not its default)."""
    return (f.get("kind"), bool(f.get("nullable")),
            f.get("wire_tag") or f.get("ref_name"),
            f.get("item_kind"), f.get("item_wire_tag") or f.get("item_ref"), f.get("item_nullable"),
            f.get("key_kind"), f.get("value_kind"), f.get("value_ref"), f.get("value_nullable"))


def _type_text(f: dict[str, Any]) -> str:
    from .manifest import field_type_text

    return field_type_text(f)


class _Differ:
    def __init__(self) -> None:
        self.result = ContractDiff()

    def add(self, service: str, method: str | None, field_name: str | None, kind: str, compatible: bool,
            detail: str) -> None:
        self.result.changes.append(Change(service, method, field_name, kind, compatible, detail))

    def fields(self, service: str, method: str | None, prefix: str, old: list[dict], new: list[dict],
               roles: set[str]) -> None:
        """Compare two field lists of one message used as request and/or response."""
        old_by, new_by = {f["name"]: f for f in old}, {f["name"]: f for f in new}
        as_input = INPUT in roles
        for name in old_by.keys() - new_by.keys():
            self.add(service, method, prefix + name, "field_removed", False, f"field {name} removed")
        for name in [n for n in new_by if n not in old_by]:
            f = new_by[name]
            required = bool(f.get("required"))
            ok = not (as_input and required)
            detail = f"new {'required' if required else 'optional'} field {name} ({_type_text(f)})"
            self.add(service, method, prefix + name, "field_added", ok, detail)
        for name in [n for n in new_by if n in old_by]:
            a, b = old_by[name], new_by[name]
            if _field_signature(a) != _field_signature(b):
                self.add(service, method, prefix + name, "field_retyped", False,
                         f"type changed from {_type_text(a)} to {_type_text(b)}")
            elif bool(a.get("required")) != bool(b.get("required")):
                now_required = bool(b.get("required"))
                ok = not (as_input and now_required)
                self.add(service, method, prefix + name,
                         "field_now_required" if now_required else "field_now_optional", ok,
                         f"field {name} is now {'required' if now_required else 'optional'}")

    def enum(self, service: str, prefix: str, old: dict, new: dict) -> None:
        old_v = {v["name"]: v["value"] for v in old.get("values", [])}
        new_v = {v["name"]: v["value"] for v in new.get("values", [])}
        for name in old_v.keys() - new_v.keys():
            self.add(service, None, prefix + name, "enum_value_removed", False, f"enum value {name} removed")
        for name in [n for n in new_v if n not in old_v]:
            self.add(service, None, prefix + name, "enum_value_added", True, f"new enum value {name}")
        for name in [n for n in new_v if n in old_v and new_v[n] != old_v[n]]:
            self.add(service, None, prefix + name, "enum_value_changed", False,
                     f"enum value {name} changed from {old_v[name]!r} to {new_v[name]!r}")


def _types_by_tag(manifest: dict[str, Any]) -> tuple[dict[str, dict], dict[str, set[str]]]:
    """Message and enum descriptions by wire tag, and in which roles each is reachable."""
    types: dict[str, dict] = {}
    roles: dict[str, set[str]] = {}
    for method in manifest.get("methods", []):
        for t in method.get("types", []):
            types.setdefault(t["wire_tag"], t)
            # without recorded roles (older manifests) assume the strictest: both
            roles.setdefault(t["wire_tag"], set()).update(t.get("roles") or (INPUT, OUTPUT))
    return types, roles


def _diff_service(d: _Differ, old: dict[str, Any], new: dict[str, Any]) -> None:
    name = new["service"]
    before = len(d.result.changes)
    if old.get("version") != new.get("version"):
        d.add(name, None, None, "version_changed", False, f"version {old.get('version')} -> {new.get('version')}")
    if old.get("scoped", "shared") != new.get("scoped", "shared"):
        d.add(name, None, None, "scope_changed", False, f"scope {old.get('scoped')} -> {new.get('scoped')}")
    if list(old.get("serialization_modes", [])) != list(new.get("serialization_modes", [])):
        d.add(name, None, None, "serialization_changed", False,
              f"serialization {old.get('serialization_modes')} -> {new.get('serialization_modes')}")
    old_m = {m["name"]: m for m in old.get("methods", [])}
    new_m = {m["name"]: m for m in new.get("methods", [])}
    for m in sorted(old_m.keys() - new_m.keys()):
        d.add(name, m, None, "method_removed", False, f"method {m} removed")
    for m in sorted(new_m.keys() - old_m.keys()):
        d.add(name, m, None, "method_added", True,
              f"new {new_m[m].get('pattern', 'unary')} method {m}")
    roots: set[str] = set()
    for m in sorted(old_m.keys() & new_m.keys()):
        a, b = old_m[m], new_m[m]
        if a.get("pattern") != b.get("pattern"):
            d.add(name, m, None, "pattern_changed", False, f"pattern {a.get('pattern')} -> {b.get('pattern')}")
        for role, key_tag, key_name, key_fields in ((INPUT, "request_wire_tag", "request_type", "fields"),
                                                    (OUTPUT, "response_wire_tag", "response_type", "response_fields")):
            tag_a, tag_b = a.get(key_tag) or a.get(key_name), b.get(key_tag) or b.get(key_name)
            if tag_a != tag_b:
                d.add(name, m, None, f"{role}_type_changed", False, f"{role} type {tag_a} -> {tag_b}")
            else:
                roots.add(tag_b)
                d.fields(name, m, f"{role}.", a.get(key_fields, []), b.get(key_fields, []), {role})
        if a.get("timeout") != b.get("timeout"):
            d.add(name, m, None, "timeout_changed", True, f"timeout {a.get('timeout')} -> {b.get('timeout')}")
        if bool(a.get("idempotent")) != bool(b.get("idempotent")):
            d.add(name, m, None, "idempotent_changed", True,
                  f"idempotent {bool(a.get('idempotent'))} -> {bool(b.get('idempotent'))}")
    old_t, _ = _types_by_tag(old)
    new_t, roles = _types_by_tag(new)
    for tag in sorted(old_t.keys() & new_t.keys()):
        a, b = old_t[tag], new_t[tag]
        if tag in roots and a.get("kind") == "message":
            continue  # request/response messages were compared per method above
        prefix = f"{b.get('name', tag)}."
        if a.get("kind") != b.get("kind"):
            d.add(name, None, b.get("name", tag), "type_retyped", False, f"{tag} changed from {a.get('kind')} to {b.get('kind')}")
        elif b.get("kind") == "enum":
            d.enum(name, prefix, a, b)
        else:
            d.fields(name, None, prefix, a.get("fields", []), b.get("fields", []), roles.get(tag, {INPUT, OUTPUT}))
    if len(d.result.changes) == before and old.get("contract_id") != new.get("contract_id"):
        d.add(name, None, None, "contract_changed", False,
              "contract id changed with no difference visible in the manifests (e.g. field order or a "
              "nested type they do not describe)")


def diff_contracts(old: Iterable[dict[str, Any]], new: Iterable[dict[str, Any]]) -> ContractDiff:
    """Changes from ``old`` to ``new`` (lists of manifest-shaped dicts), matched by service name."""
    d = _Differ()
    old_by = {m["service"]: m for m in old}
    new_by = {m["service"]: m for m in new}
    for svc in sorted(old_by.keys() - new_by.keys()):
        d.add(svc, None, None, "service_removed", False, f"service {svc} removed")
    for svc in sorted(new_by.keys() - old_by.keys()):
        d.add(svc, None, None, "service_added", True, f"new service {svc} v{new_by[svc].get('version')}")
    for svc in sorted(old_by.keys() & new_by.keys()):
        _diff_service(d, old_by[svc], new_by[svc])
    return d.result
