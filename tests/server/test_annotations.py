"""aster_server.codecs.resolve_annotations: a wire module's string annotations (``from __future__
import annotations``) resolved once, so the runtime's per-message ``get_type_hints`` compiles
nothing; the hints it returns do not change, and a server built by build_server has them resolved."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Optional

from aster import rpc, service, wire_type
from aster.json_codec import json_decode

from aster_server.codecs import resolve_annotations
from tests.support.aio import run


@wire_type("astertest/annotations/Item")
@dataclass
class Item:
    name: str = ""
    count: int = 0


@dataclass
class Base:
    kind: str = "service"


@wire_type("astertest/annotations/Query")
@dataclass
class Query(Base):
    items: list[Item] = field(default_factory=list)
    first: Optional[Item] = None
    limit: int = 100
    tags: typing.ClassVar[tuple[str, ...]] = ("a",)


@wire_type("astertest/annotations/Served")
@dataclass
class Served:
    text: str = ""


@service(name="AnnotationsServed", version=1)
class AnnotationsServed:
    @rpc
    async def echo(self, req: Served) -> Served:
        return req


def test_resolved_annotations_give_the_same_hints_and_decode_alike():
    before = {tp: typing.get_type_hints(tp) for tp in (Item, Base, Query)}
    assert all(isinstance(v, str) for v in Query.__dict__["__annotations__"].values())
    assert resolve_annotations([Query, Item, int, "not a type"]) == 3  # Query, its base Base, Item
    assert {tp: typing.get_type_hints(tp) for tp in (Item, Base, Query)} == before
    assert not any(isinstance(v, str) for tp in (Item, Base, Query) for v in tp.__dict__["__annotations__"].values())
    assert list(Query.__dict__["__annotations__"]) == ["items", "first", "limit", "tags"]  # own fields only
    assert resolve_annotations([Query]) == 0  # twice is harmless
    decoded = json_decode(b'{"kind": "device", "items": [{"name": "a", "count": 2}], "first": {"name": "b"}}', Query)
    assert decoded == Query(kind="device", items=[Item("a", 2)], first=Item("b"))


def test_annotations_that_do_not_resolve_are_left_alone():
    @dataclass
    class Dangling:
        other: NoSuchType = None  # noqa: F821 - the point: a name nothing defines

    assert resolve_annotations([Dangling]) == 0
    assert Dangling.__annotations__ == {"other": "NoSuchType"}


def test_build_server_resolves_the_types_it_serves(tmp_path):
    from aster_server.lifecycle import ServerSpec, build_server

    assert Served.__dict__["__annotations__"] == {"text": "str"}

    async def body():
        server = await build_server(ServerSpec(name="annotations-test", services=[AnnotationsServed()],
                                               node_key=b"\x08" * 32), tmp_path)
        await server.close()

    run(body(), timeout=60)
    assert Served.__dict__["__annotations__"] == {"text": str}
    assert dataclasses.fields(Served)[0].type == "str"  # the dataclass's own record is untouched
