"""The types a published manifest describes: fields, their value types, and a table of messages.

A manifest (``docs/file-formats.md``, "Contract manifests") describes only each method's
request and response fields; a nested message names its type (``ref_name`` /
``wire_tag``) and nothing more. :class:`TypeTable` collects the fields of every
request and response type the peer publishes, so both ``aster call`` (checking a
request) and ``aster mcp`` (tool schemas and an agent's arguments) can look a
nested message up in one place, with one rule for which description applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

_LABELS = {"string": "str", "int": "int", "float": "float", "bool": "bool", "bytes": "bytes"}


@dataclass(frozen=True)
class TypeInfo:
    """The type of a value as the manifest describes it; ``None`` parts were not described.

    ``item`` is a list's item type, ``key_kind``/``value`` a map's key kind and value
    type; ``ref`` (and ``wire_tag``) name a message or enum type.
    """

    kind: str | None = None       # string int float bool bytes list map enum ref; None: not described
    nullable: bool = False
    ref: str | None = None
    wire_tag: str | None = None
    enum_values: tuple = ()
    item: "TypeInfo | None" = None
    key_kind: str | None = None
    value: "TypeInfo | None" = None

    @property
    def label(self) -> str:
        """A Python-like type for people: ``int``, ``list[str | None]``, ``dict[int, float]``, ``Point | None``."""
        kind = self.kind
        if kind == "list":
            text = f"list[{self.item.label}]" if self.item is not None and self.item.kind else "list"
        elif kind == "map":
            if self.key_kind or (self.value is not None and self.value.kind):
                value = self.value.label if self.value is not None and self.value.kind else "Any"
                text = f"dict[{_LABELS.get(self.key_kind or '', self.key_kind or 'Any')}, {value}]"
            else:
                text = "dict"
        elif kind in ("ref", "enum"):
            text = self.ref or ("dict" if kind == "ref" else "enum")
        elif kind is None:
            text = "Any"
        else:
            text = _LABELS.get(kind, kind)
        return f"{text} | None" if self.nullable and kind is not None else text


@dataclass(frozen=True)
class FieldInfo:
    """One field of a request or response type, with everything the manifest says about its type."""

    name: str
    kind: str = "string"          # string int float bool bytes list map enum ref
    required: bool = False
    nullable: bool = False
    default: Any = None
    #: list items: kind, message/enum type name, nullability
    item_kind: str | None = None
    #: the field's own message/enum type name (``kind`` ref or enum)
    ref_name: str | None = None
    enum_values: tuple = ()
    item_ref: str | None = None
    item_nullable: bool = False
    #: map keys' kind; map values: kind, message/enum type name, nullability
    key_kind: str | None = None
    value_kind: str | None = None
    value_ref: str | None = None
    value_nullable: bool = False
    #: wire tags of the field's own type and of its list items (to find a message's fields)
    wire_tag: str | None = None
    item_wire_tag: str | None = None

    @classmethod
    def from_manifest(cls, data: dict) -> "FieldInfo":
        def text(key: str) -> str | None:
            value = data.get(key)
            return str(value) if value not in (None, "") else None

        return cls(
            name=str(data.get("name", "")),
            kind=str(data.get("kind") or "string"),
            required=bool(data.get("required", False)),
            nullable=bool(data.get("nullable", False)),
            default=data.get("default_value"),
            item_kind=text("item_kind"),
            ref_name=text("ref_name"),
            enum_values=tuple(data.get("enum_values") or ()),
            item_ref=text("item_ref"),
            item_nullable=bool(data.get("item_nullable", False)),
            key_kind=text("key_kind"),
            value_kind=text("value_kind"),
            value_ref=text("value_ref"),
            value_nullable=bool(data.get("value_nullable", False)),
            wire_tag=text("wire_tag"),
            item_wire_tag=text("item_wire_tag"),
        )

    @property
    def type(self) -> TypeInfo:
        """The field's type as a tree (list items, map keys and values)."""
        item = value = None
        if self.kind == "list" and self.item_kind:
            item = TypeInfo(self.item_kind, self.item_nullable, self.item_ref, self.item_wire_tag)
        if self.kind == "map" and self.value_kind:
            value = TypeInfo(self.value_kind, self.value_nullable, self.value_ref)
        return TypeInfo(self.kind, self.nullable, self.ref_name, self.wire_tag, self.enum_values, item,
                        self.key_kind if self.kind == "map" else None, value)

    @property
    def type_label(self) -> str:
        """A short type for people: ``int``, ``list[str | None]``, ``dict[int, float]``, ``Point | None``."""
        return self.type.label

    def to_dict(self) -> dict:
        data = {"name": self.name, "kind": self.kind, "type": self.type_label, "required": self.required,
                "nullable": self.nullable, "default": self.default}
        if self.kind == "list" and self.item_kind:
            data.update(item_kind=self.item_kind, item_nullable=self.item_nullable)
        if self.kind == "map":
            data.update(key_kind=self.key_kind, value_kind=self.value_kind, value_nullable=self.value_nullable)
        return data


@dataclass(frozen=True, eq=False)
class _Described:
    """One described message type: its descriptors as published and as :class:`FieldInfo`."""

    descriptors: tuple[dict, ...]
    fields: tuple[FieldInfo, ...]


class TypeTable:
    """Message type -> its fields, from the request and response types of published methods.

    Keeps the manifest's field descriptors as published (``described``: what tool
    schemas render, defaults included) and as :class:`FieldInfo` (``fields``: what
    requests are checked against). A type is found by wire tag, the identity the
    runtime gives it; by name only when no wire tag is known, and only when no two
    described types share that name (guessing would check against the wrong fields).
    Any other nested message is an open object.
    """

    def __init__(self) -> None:
        self._by_tag: dict[str, _Described] = {}
        self._by_name: dict[str, _Described | None] = {}

    @classmethod
    def from_methods(cls, methods: Iterable[Mapping[str, Any]]) -> "TypeTable":
        """The request and response types of manifest method descriptors."""
        table = cls()
        for method in methods:
            table.add(str(method.get("request_type") or ""), method.get("request_wire_tag"), method.get("fields"))
            table.add(str(method.get("response_type") or ""), method.get("response_wire_tag"),
                      method.get("response_fields"))
        return table

    def add(self, name: str, wire_tag: str | None, fields: Iterable[Mapping[str, Any]] | None) -> None:
        """Record a type's field descriptors; the first description of a wire tag wins."""
        descriptors = tuple(dict(f) for f in fields or ())
        if not descriptors:
            return
        entry = _Described(descriptors, tuple(FieldInfo.from_manifest(f) for f in descriptors))
        if wire_tag:
            self._by_tag.setdefault(wire_tag, entry)
        if name:
            known = self._by_name.get(name, entry)
            same = known is not None and known.descriptors == descriptors
            self._by_name[name] = entry if same else None   # two types, one name: unknown

    def extend(self, other: "TypeTable") -> None:
        """Add the wire tags and names of ``other`` this table does not know yet (its own win)."""
        for tag, entry in other._by_tag.items():
            self._by_tag.setdefault(tag, entry)
        for name, maybe in other._by_name.items():
            self._by_name.setdefault(name, maybe)

    def _find(self, name: str | None, wire_tag: str | None) -> _Described | None:
        if wire_tag and wire_tag in self._by_tag:
            return self._by_tag[wire_tag]
        if wire_tag and self._by_tag:
            return None
        return self._by_name.get(name) if name else None

    def described(self, name: str | None, wire_tag: str | None = None) -> list[dict] | None:
        """The manifest field descriptors of a type, or ``None`` when it is not (unambiguously) described."""
        entry = self._find(name, wire_tag)
        return None if entry is None else list(entry.descriptors)

    def fields(self, name: str | None, wire_tag: str | None = None) -> tuple[FieldInfo, ...] | None:
        """:meth:`described`, as :class:`FieldInfo`."""
        entry = self._find(name, wire_tag)
        return None if entry is None else entry.fields
