"""The tools a peer's services become: one per method, named ``Service.method``.

A service offered in several versions gives the plain names to its highest
version (as ``aster call`` does for a plain service name) and
``Service.vN.method`` to each older version N; every tool calls exactly the
version its schema was built from (``Service@N`` in :mod:`aster_connect`).

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
    """The operator's ``--allow``/``--deny``/``--confirm`` globs over tool names.

    A tool is tested under all its ``names``: its own and, for an older
    version's ``Service.vN.method``, the plain ``Service.method`` too, so
    ``--deny Billing.purge`` still hides ``purge`` once a newer ``Billing``
    version without it pushes it under ``Billing.v1.purge``.
    """

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    confirm: tuple[str, ...] = ()

    def hidden_by(self, *names: str) -> str | None:
        """Why a tool known as ``names`` is hidden, or ``None`` when it is offered."""
        for glob in self.deny:
            if _matches(names, glob):
                return f"denied by --deny {glob}"
        if self.allow and not any(_matches(names, glob) for glob in self.allow):
            return "matches no --allow"
        return None

    def needs_confirm(self, *names: str) -> bool:
        return any(_matches(names, glob) for glob in self.confirm)

    def may_offer(self, service: str) -> bool:
        """Whether any tool of ``service`` can pass these globs (judged from the names alone).

        ``--allow 'Billing.*'`` rules out every other service and ``--deny
        'Admin.*'`` all of ``Admin``, so their manifests need not be read.
        """
        for glob in self.deny:
            head, dot, rest = glob.partition(".")
            if glob == "*" or (dot and rest == "*" and fnmatchcase(service, head)):
                return False
        return not self.allow or any(fnmatchcase(service, glob.partition(".")[0]) or
                                     fnmatchcase(f"{service}.", glob) for glob in self.allow)


def _matches(names: Iterable[str], glob: str) -> bool:
    return any(fnmatchcase(name, glob) for name in names)


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
    def target(self) -> str:
        """The exact service version to call, as ``aster_connect`` (and ``aster call``) address it."""
        return f"{self.service}@{self.version}"

    @property
    def method_name(self) -> str:
        return str(self.method["name"])

    @property
    def pattern(self) -> str:
        return str(self.method.get("pattern", sch.UNARY))

    @property
    def description(self) -> str:
        return sch.describe(self.service, self.method, scoped=self.scoped, version=self.version)

    @property
    def input_schema(self) -> dict[str, Any]:
        return sch.input_schema(self.method, self.types)

    @property
    def output_schema(self) -> dict[str, Any]:
        return sch.output_schema(self.method, self.types)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "service": self.service, "method": self.method_name, "version": self.version,
                "target": self.target, "pattern": self.pattern, "scoped": self.scoped, "confirm": self.confirm,
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
    #: services the filters would offer but whose schema could not be read: ``{ref: why}``
    unread: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"tools": [t.to_dict() for t in self.tools.values()],
                "omitted": [o.to_dict() for o in self.omitted],
                "unread": [{"service": ref, "reason": why} for ref, why in self.unread.items()]}


def method_dicts(service: ServiceInfo) -> list[dict[str, Any]] | None:
    """The method descriptors of a service's published manifest; ``None`` when none was read.

    They come verbatim from ``ServiceInfo.manifest`` (the runtime's own field
    descriptors: map key/value kinds, list-item nullability, ``idempotent``).
    """
    manifest = service.manifest
    if manifest is None:
        return None
    return [dict(m) for m in manifest.get("methods") or () if isinstance(m, Mapping) and m.get("name")]


def tool_prefix(name: str, version: int, highest: int) -> str:
    """``Service`` for a service's highest version, ``Service.vN`` for an older version N.

    Not ``Service@N``: MCP tool names may only hold letters, digits, ``_``, ``-``
    and ``.``. The dot keeps ``--deny 'Service.*'`` covering every version.
    """
    return name if version == highest else f"{name}.v{version}"


def build_catalog(services: Sequence[ServiceInfo], filters: Filters = Filters(),
                  missing: Mapping[str, str] | None = None) -> Catalog:
    """Tools for every method of every version of ``services`` (``aster_connect`` ServiceInfo objects).

    ``missing`` gives why a service has no schema (``Connection.schema_missing``).
    """
    catalog = Catalog()
    first_seen: dict[str, int] = {}
    highest: dict[str, int] = {}
    for index, service in enumerate(services):
        first_seen.setdefault(service.name, index)
        highest[service.name] = max(highest.get(service.name, int(service.version)), int(service.version))
    # Each service's versions together, highest first, in the order the peer announced them.
    ordered = sorted(services, key=lambda s: (first_seen[s.name], -int(s.version)))
    per_service: list[tuple[ServiceInfo, list[dict[str, Any]] | None]] = [(s, method_dicts(s)) for s in ordered]
    everything = sch.TypeTable.from_methods(m for _, methods in per_service for m in methods or ())
    for service, methods in per_service:
        name, version = service.name, int(service.version)
        prefix = tool_prefix(name, version, highest[name])
        if methods is None:
            why = (missing or {}).get(service.ref or name)
            if not filters.may_offer(name):  # its manifest was not needed, so not read
                reason = filters.hidden_by(f"{prefix}.*", f"{name}.*") or "left out by the filters"
                catalog.omitted.append(Omitted(f"{prefix}.*", reason))
                continue
            catalog.omitted.append(Omitted(f"{prefix}.*", f"no method schemas: {why}" if why else
                                           "no published manifest could be read, so no method schemas"))
            catalog.unread[service.ref or name] = why or "no published manifest could be read"
            continue
        types = _service_types(methods, everything)
        for method in sorted(methods, key=lambda m: str(m["name"])):
            tool = f"{prefix}.{method['name']}"
            names = dict.fromkeys((tool, f"{name}.{method['name']}"))
            pattern = str(method.get("pattern", sch.UNARY))
            reason = filters.hidden_by(*names)
            if reason is None and pattern not in sch.PATTERN_TEXT:
                reason = f"unknown RPC pattern {pattern!r}"
            if reason is None and sch.reserved_collisions(method):
                clash = ", ".join(sch.reserved_collisions(method))
                reason = f"request field(s) {clash} clash with this tool layer's own arguments"
            if reason is None and tool in catalog.tools:
                reason = (f"{name} version {version}: the tool name is already taken by "
                          f"{catalog.tools[tool].target}.{catalog.tools[tool].method_name}")
            if reason is not None:
                catalog.omitted.append(Omitted(tool, reason, pattern))
                continue
            catalog.tools[tool] = ToolSpec(tool, name, version, str(service.scoped), method, types,
                                           filters.needs_confirm(*names))
    return catalog


def _service_types(methods: Iterable[Mapping[str, Any]], everything: sch.TypeTable) -> sch.TypeTable:
    """A service's own message types first, then those other services publish."""
    table = sch.TypeTable.from_methods(methods)
    table.extend(everything)
    return table
