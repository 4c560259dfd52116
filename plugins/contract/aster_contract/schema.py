"""A language-neutral view of the messages, enums and methods in manifests.

Both code generators read contracts through :func:`collect`: messages and enums
come from the manifest's type table when it has one (written by ``aster contract
gen``, either layout: :func:`aster_contract.manifest.type_table`), completed by the
request/response field lists the runtime itself publishes; nested types neither
describes are reported as ``unknown`` so generators can fall back to an untyped
value and say so. Names are not checked here: each generator calls
:func:`aster_contract.names.check_names` for its language before writing anything.
:func:`field_type` walks a field's kind/item/key/value/nullable structure once;
each generator supplies only its language's spelling as a :class:`TypeSyntax`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from aster_core.errors import UsageError

from .names import type_identifier


@dataclass
class TypeInfo:
    name: str          # identifier used in generated code (unique per package)
    kind: str          # "message" | "enum"
    wire_tag: str
    namespace: str
    typename: str
    fields: list[dict[str, Any]] = field(default_factory=list)
    values: list[dict[str, Any]] = field(default_factory=list)
    base: str = ""
    source_name: str = ""  # the name as the contract spells it (``Outer.Inner``)


@dataclass
class Schema:
    types: dict[str, TypeInfo] = field(default_factory=dict)   # by wire tag, definition order
    services: list[dict[str, Any]] = field(default_factory=list)
    unknown: set[str] = field(default_factory=set)              # refs nothing describes

    def ref(self, tag_or_name: str | None) -> TypeInfo | None:
        if not tag_or_name:
            return None
        if tag_or_name in self.types:
            return self.types[tag_or_name]
        return next((t for t in self.types.values() if t.name == tag_or_name), None)


@dataclass(frozen=True)
class TypeSyntax:
    """How one language spells field types. Templates fill ``{}`` (map: ``{key}``, ``{value}``)."""
    prims: Mapping[str, str]                       # primitive kind -> type
    missing_ref: Callable[[str | None], str]       # a reference nothing in the contract describes
    missing_enum: Callable[[dict[str, Any]], str]  # an enum field whose enum nothing describes
    optional: str                                  # a nullable field or map value
    optional_item: str                             # a nullable list item
    list: str
    map: str
    unknown: str                                   # a kind the manifest does not define


def type_name(schema: Schema, syntax: TypeSyntax, ref: str | None) -> str:
    """The generated name of a referenced message or enum (the language's fallback if undescribed)."""
    info = schema.ref(ref)
    return info.name if info is not None else syntax.missing_ref(ref)


def _element(schema: Schema, syntax: TypeSyntax, kind: str, ref: str | None) -> str:
    if kind in ("ref", "enum"):
        return type_name(schema, syntax, ref)
    return syntax.prims.get(kind, syntax.unknown)


def _nullable(template: str, text: str, nullable: Any) -> str:
    return template.format(text) if nullable else text


def _enum_type(schema: Schema, syntax: TypeSyntax, f: dict[str, Any]) -> str:
    info = schema.ref(f.get("wire_tag") or f.get("ref_name"))
    return info.name if info is not None else syntax.missing_enum(f)


def _list_type(schema: Schema, syntax: TypeSyntax, f: dict[str, Any]) -> str:
    item = _element(schema, syntax, f.get("item_kind", "string"), f.get("item_wire_tag") or f.get("item_ref"))
    return syntax.list.format(_nullable(syntax.optional_item, item, f.get("item_nullable")))


def _map_type(schema: Schema, syntax: TypeSyntax, f: dict[str, Any]) -> str:
    key = syntax.prims.get(f.get("key_kind", "string"), syntax.prims["string"])
    value = _element(schema, syntax, f.get("value_kind", "string"), f.get("value_ref"))
    return syntax.map.format(key=key, value=_nullable(syntax.optional, value, f.get("value_nullable")))


def field_type(schema: Schema, syntax: TypeSyntax, f: dict[str, Any]) -> str:
    """The type of manifest field ``f`` in ``syntax``'s language."""
    kind = f.get("kind", "string")
    if kind == "enum":
        text = _enum_type(schema, syntax, f)
    elif kind == "list":
        text = _list_type(schema, syntax, f)
    elif kind == "map":
        text = _map_type(schema, syntax, f)
    else:
        text = _element(schema, syntax, kind, f.get("wire_tag") or f.get("ref_name"))
    return _nullable(syntax.optional, text, f.get("nullable"))


def identifier(name: str) -> str:
    """A contract name as an identifier: ``Outer.Inner`` -> ``Outer_Inner``; plain identifiers
    unchanged. Only for names :func:`aster_contract.names.check_names` accepted."""
    return type_identifier(name)


def collect(manifests: list[dict[str, Any]]) -> Schema:
    """Gather every type and service of ``manifests`` (validated) into one :class:`Schema`."""
    from .manifest import split_tag, type_table

    schema = Schema()
    names: dict[str, str] = {}  # identifier -> wire tag, to keep identifiers unique

    def add(entry: dict[str, Any]) -> None:
        tag = entry["wire_tag"]
        if tag in schema.types:
            return
        raw = entry.get("name") or entry.get("typename") or tag
        ident = type_identifier(raw)
        while ident in names and names[ident] != tag:
            ident += "_"
        names[ident] = tag
        ns, tn = split_tag(tag)
        schema.types[tag] = TypeInfo(
            name=ident, kind=entry.get("kind", "message"), wire_tag=tag,
            namespace=entry.get("namespace", ns), typename=entry.get("typename", tn),
            fields=list(entry.get("fields", [])), values=list(entry.get("values", [])),
            base=entry.get("base", ""), source_name=raw)

    for manifest in manifests:
        for entry in type_table(manifest).values():
            add(entry)
    for info in list(schema.types.values()):
        for f in info.fields:
            for ref in (f.get("wire_tag") or f.get("ref_name"), f.get("item_wire_tag") or f.get("item_ref"),
                        f.get("value_ref")):
                if ref and schema.ref(ref) is None and f.get("kind") != "enum":
                    schema.unknown.add(ref)
    schema.services = list(manifests)
    seen = set()
    for manifest in manifests:
        key = (manifest["service"], manifest.get("version", 1))
        if key in seen:
            raise UsageError(f"{manifest['service']} v{key[1]} appears twice", "pass each service once")
        seen.add(key)
    return schema
