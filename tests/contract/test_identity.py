"""Our contract identity equals the runtime's, and the type-hint memo answers what typing would."""

from __future__ import annotations

import importlib
import sys
import textwrap
import typing

import pytest
from aster.contract import contract_id_from_service

from aster_contract.hints import HintMemo, installed
from aster_contract.identity import _runtime_identity, fast_identity, service_identity

# every rule of the runtime's composition: string and class method types (a string resolved by
# name suffix, a wrapped one that matches nothing), primitives, Optional vs `X | None`, list /
# set / frozenset / dict containers with refs in keys and values, nested containers (ANY),
# enums (ANY), a shared type, an untagged type, a type whose hints cannot be resolved,
# timeouts, idempotence, session scope, NFC-sorted method names
QUIRKS = '''
    from __future__ import annotations
    import enum
    from dataclasses import dataclass, field
    from typing import AsyncIterator, Dict, FrozenSet, List, Optional, Set, Any
    from aster import bidi_stream, client_stream, rpc, server_stream, service, wire_type

    @wire_type("q/Color")
    class Color(enum.IntEnum):
        RED = 1

    @wire_type("q/Leaf")
    @dataclass
    class Leaf:
        a: int = 0
        b: bytes = b""
        c: bytearray = field(default_factory=bytearray)
        d: float = 0.0

    @dataclass
    class Untagged:
        leaf: Optional[Leaf] = None

    @wire_type("q/Mixed")
    @dataclass
    class Mixed:
        opt: Optional[Leaf] = None
        pipe: Leaf | None = None
        items: list[Leaf] = field(default_factory=list)
        olist: Optional[List[Leaf]] = None
        lopt: list[Optional[Leaf]] = field(default_factory=list)
        tags: Set[str] = field(default_factory=set)
        frozen: FrozenSet[Leaf] = frozenset()
        by_key: dict[str, Leaf] = field(default_factory=dict)
        typed: Dict[Leaf, int] = field(default_factory=dict)
        nested: list[list[int]] = field(default_factory=list)
        color: Color = Color.RED
        anything: Any = None
        untagged: Untagged = field(default_factory=Untagged)

    @wire_type("q/Broken")
    @dataclass
    class Broken:
        ghost: "NoSuchName" = None

    @service(name="Quirks", version=3, scoped="session")
    class Quirks:
        def __init__(self, peer=None):
            self.peer = peer

        @rpc(timeout=2.5, idempotent=True)
        async def b_get(self, request: Mixed) -> Leaf:
            return Leaf()

        @rpc
        async def a_prim(self, request: Leaf) -> Mixed:
            return Mixed()

        @server_stream
        async def watch(self, request: Untagged) -> AsyncIterator[Leaf]:
            yield Leaf()

        @client_stream
        async def upload(self, requests: AsyncIterator[Leaf]) -> Broken:
            return Broken()

        @bidi_stream
        async def chat(self, requests: AsyncIterator[Mixed]) -> AsyncIterator[Mixed]:
            yield Mixed()
'''


@pytest.fixture
def quirks(tmp_path, monkeypatch):
    (tmp_path / "quirks_mod.py").write_text(textwrap.dedent(QUIRKS))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module("quirks_mod")
    sys.modules.pop("quirks_mod", None)


def test_our_identity_is_the_runtimes_for_every_rule(quirks):
    ours = fast_identity(quirks.Quirks)  # our composition itself, not a fallback
    assert ours.contract_id == contract_id_from_service(quirks.Quirks)
    assert ours == _runtime_identity(quirks.Quirks)
    assert ours.scoped == "session" and ours.method_count == 5


@pytest.mark.parametrize("spec", ["shop:Inventory", "shop:Cart", "shop_v2:InventoryV2", "untagged:Echo"])
def test_our_identity_is_the_runtimes_for_the_example_services(spec):
    module, _, name = spec.partition(":")
    cls = getattr(importlib.import_module(f"tests.contract.services.{module}"), name)
    assert fast_identity(cls) == _runtime_identity(cls)
    assert fast_identity(cls).contract_id == contract_id_from_service(cls)


def test_a_cyclic_type_graph_is_left_to_the_runtime():
    from tests.contract.services.recursive import Tree

    with pytest.raises(Exception):
        fast_identity(Tree)
    assert service_identity(Tree).contract_id == contract_id_from_service(Tree)


def _module(tmp_path, monkeypatch, name: str, source: str):
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    return importlib.import_module(name)


def test_the_memo_answers_again_when_a_name_is_rebound(tmp_path, monkeypatch):
    mod = _module(tmp_path, monkeypatch, "rebind_mod", '''
        from __future__ import annotations
        from typing import Optional
        Alias = int
        class A:
            x: Alias
            y: Optional["Later"]
        Later = str
    ''')
    memo = HintMemo()
    assert memo.hints(mod.A) == typing.get_type_hints(mod.A) == {"x": int, "y": typing.Optional[str]}
    mod.Alias = float
    assert memo.hints(mod.A)["x"] is float
    mod.Later = bytes  # named only inside a nested forward reference
    assert memo.hints(mod.A)["y"] == typing.Optional[bytes]
    mod.A.__annotations__["z"] = "Alias"  # the annotations themselves change
    assert memo.hints(mod.A) == typing.get_type_hints(mod.A)
    sys.modules.pop("rebind_mod", None)


def test_the_memo_follows_aliases_and_inherited_annotations(tmp_path, monkeypatch):
    mod = _module(tmp_path, monkeypatch, "alias_mod", '''
        from typing import List
        Items = List["Item"]
        Item = int
        class Base:
            items: Items
        class Child(Base):
            more: "Items"
    ''')
    memo = HintMemo()
    assert memo.hints(mod.Child) == typing.get_type_hints(mod.Child)
    mod.Item = str  # reached only through the object Items is bound to
    assert memo.hints(mod.Child) == typing.get_type_hints(mod.Child) == {"items": List_of(str), "more": List_of(str)}
    mod.Base.__annotations__["extra"] = int  # a base changes
    assert memo.hints(mod.Child)["extra"] is int
    sys.modules.pop("alias_mod", None)


def List_of(tp):  # noqa: N802 - reads like the annotation
    return typing.List[tp]


def test_annotations_that_could_do_anything_are_never_memoised(tmp_path, monkeypatch):
    mod = _module(tmp_path, monkeypatch, "calls_mod", '''
        calls = []
        def pick():
            calls.append(1)
            return int
        class C:
            x: "pick()"
    ''')
    memo = HintMemo()
    memo.hints(mod.C)
    memo.hints(mod.C)
    assert len(mod.calls) == 2
    sys.modules.pop("calls_mod", None)


def test_failures_are_not_memoised_and_answers_are_copies(tmp_path, monkeypatch):
    mod = _module(tmp_path, monkeypatch, "late_mod", '''
        class D:
            x: "Later"
    ''')
    memo = HintMemo()
    with pytest.raises(NameError):
        memo.hints(mod.D)
    mod.Later = int
    first = memo.hints(mod.D)
    first["x"] = str
    assert memo.hints(mod.D) == {"x": int}
    sys.modules.pop("late_mod", None)


def test_installed_restores_typing_and_leaves_a_later_replacement_alone():
    original = typing.get_type_hints
    with installed():
        assert typing.get_type_hints is not original
        assert typing.get_type_hints(test_installed_restores_typing_and_leaves_a_later_replacement_alone) == {}
    assert typing.get_type_hints is original
    try:
        with installed():
            typing.get_type_hints = replacement = lambda *a, **k: {}
        assert typing.get_type_hints is replacement
    finally:
        typing.get_type_hints = original
