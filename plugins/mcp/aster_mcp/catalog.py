"""The tools a peer's services become: one per method, named ``Service.method``.

Built from what :mod:`aster_connect` reports (services, scopes and the
methods of their published manifests) and filtered by the operator's globs:
``--deny`` hides a tool and wins over ``--allow``; once any ``--allow`` is
given a tool must match one. ``--confirm`` marks tools that need the human's
yes (asked through the MCP client) before each call. Every method that does
not become a tool is kept in :attr:`Catalog.omitted` with the reason, for
``aster mcp --list``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from . import schema as sch

if TYPE_CHECKING:
    from aster_connect.schema import ServiceInfo


@dataclass(frozen=True)
class Filters:
    """The operator's ``--allow``/``--deny``/``--confirm`` globs over tool names."""

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    confirm: tuple[str, ...] = ()

    def hidden_by(self, name: str) -> str | None:
        """Why ``name`` is hidden, or ``None`` when it is offered."""
        for glob in self.deny:
            if fnmatchcase(name, glob):
                return f"denied by --deny {glob}"
        if self.allow and not any(fnmatchcase(name, glob) for glob in self.allow):
            return "matches no --allow"
        return None

    def needs_confirm(self, name: str) -> bool:
        return any(fnmatchcase(name, glob) for glob in self.confirm)


@dataclass(frozen=True)
class ToolSpec:
    """One offered tool and everything needed to call its method."""

    name: str
    service: str
    version: int
    scoped: str
    method: Mapping[str, Any]
    types: sch.TypeTable = field(repr=False, compare=False)
    confirm: bool = False

    @property
    def method_name(self) -> str:
        return str(self.method["name"])

    @property
    def pattern(self) -> str:
        return str(self.method.get("pattern", sch.UNARY))

    @property
    def description(self) -> str:
        return sch.describe(self.service, self.method, scoped=self.scoped)

    @property
    def input_schema(self) -> dict[str, Any]:
        return sch.input_schema(self.method, self.types)

    @property
    def output_schema(self) -> dict[str, Any]:
        return sch.output_schema(self.method, self.types)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "service": self.service, "method": self.method_name, "version": self.version,
                "pattern": self.pattern, "scoped": self.scoped, "confirm": self.confirm,
                "request": self.method.get("request_type") or "", "response": self.method.get("response_type") or "",
                "description": self.description, "inputSchema": self.input_schema,
                "outputSchema": self.output_schema}


@dataclass(frozen=True)
class Omitted:
    """A method (or a whole service) that is not offered, and why."""

    name: str
    reason: str
    pattern: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "pattern": self.pattern, "reason": self.reason}


@dataclass
class Catalog:
    tools: dict[str, ToolSpec] = field(default_factory=dict)
    omitted: list[Omitted] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"tools": [t.to_dict() for t in self.tools.values()],
                "omitted": [o.to_dict() for o in self.omitted]}


def method_dicts(service: ServiceInfo) -> list[dict[str, Any]] | None:
    """The method descriptors of a service's published manifest; ``None`` when none was read.

    They come verbatim from ``ServiceInfo.manifest`` (the runtime's own field
    descriptors: map key/value kinds, list-item nullability, ``idempotent``).
    """
    manifest = service.manifest
    if manifest is None:
        return None
    return [dict(m) for m in manifest.get("methods") or () if isinstance(m, Mapping) and m.get("name")]


def build_catalog(services: Sequence[ServiceInfo], filters: Filters = Filters()) -> Catalog:
    """Tools for every method of ``services`` (``aster_connect`` ServiceInfo objects)."""
    catalog = Catalog()
    per_service: list[tuple[ServiceInfo, list[dict[str, Any]] | None]] = [(s, method_dicts(s)) for s in services]
    everything = sch.TypeTable.from_methods(m for _, methods in per_service for m in methods or ())
    seen: set[str] = set()
    for service, methods in per_service:
        name = service.name
        if name in seen:
            catalog.omitted.append(Omitted(f"{name}.*", f"version {service.version} of a service whose first "
                                                        "announced version already provides these tool names"))
            continue
        seen.add(name)
        if methods is None:
            catalog.omitted.append(Omitted(f"{name}.*", "no published manifest could be read, so no method schemas"))
            continue
        types = _service_types(methods, everything)
        for method in sorted(methods, key=lambda m: str(m["name"])):
            tool = f"{name}.{method['name']}"
            pattern = str(method.get("pattern", sch.UNARY))
            reason = filters.hidden_by(tool)
            if reason is None and pattern not in sch.PATTERN_TEXT:
                reason = f"unknown RPC pattern {pattern!r}"
            if reason is None and sch.reserved_collisions(method):
                clash = ", ".join(sch.reserved_collisions(method))
                reason = f"request field(s) {clash} clash with this tool layer's own arguments"
            if reason is not None:
                catalog.omitted.append(Omitted(tool, reason, pattern))
                continue
            catalog.tools[tool] = ToolSpec(tool, name, int(service.version), str(service.scoped), method, types,
                                           filters.needs_confirm(tool))
    return catalog


def _service_types(methods: Iterable[Mapping[str, Any]], everything: sch.TypeTable) -> sch.TypeTable:
    """A service's own message types first, then those other services publish."""
    table = sch.TypeTable.from_methods(methods)
    table.extend(everything)
    return table
