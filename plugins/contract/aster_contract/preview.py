"""A readable view of a contract's methods and messages (``aster contract preview``)."""

from __future__ import annotations

from typing import Any

from .manifest import field_type_text
from .schema import collect


def _field_line(f: dict[str, Any]) -> str:
    text = f"{f['name']}: {field_type_text(f)}"
    if f.get("required"):
        return text + "  (required)"
    kind, value = f.get("default_kind"), f.get("default_value")
    if kind == "value" and value is not None:
        # the runtime writes non-JSON defaults (bytes, enums) as their Python text
        text += f" = {value}" if f.get("kind") in ("bytes", "enum") else f" = {value!r}"
    return text


def describe(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One view per service: methods with options, and every message and enum they use."""
    views = []
    for manifest in manifests:
        schema = collect([manifest])
        methods = []
        for m in manifest.get("methods", []):
            options = []
            if m.get("timeout") is not None:
                options.append(f"timeout {m['timeout']:g}s")
            if m.get("idempotent"):
                options.append("idempotent")
            methods.append({"name": m["name"], "pattern": m.get("pattern", "unary"),
                            "request": m.get("request_type", ""), "response": m.get("response_type", ""),
                            "options": ", ".join(options)})
        messages = []
        for t in schema.types.values():
            lines = ([f"{v['name']} = {v['value']!r}" for v in t.values] if t.kind == "enum"
                     else [_field_line(f) for f in t.fields])
            messages.append({"name": t.name, "kind": t.kind, "wire_tag": t.wire_tag, "lines": lines})
        views.append({"service": manifest["service"], "version": manifest.get("version", 1),
                      "scoped": manifest.get("scoped", "shared"),
                      "serialization_modes": list(manifest.get("serialization_modes", [])),
                      "contract_id": manifest["contract_id"], "methods": methods, "messages": messages})
    return views
