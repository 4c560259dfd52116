"""Example services for the contract tests: every pattern and field kind.

``Inventory`` (shared, v1) covers unary and the three streaming patterns with
nested types, lists, maps, optionals, enums and bytes; ``Cart`` is
session-scoped. Every message carries ``@wire_type`` so ids do not depend on
the module name.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import AsyncIterator, Optional

from aster import bidi_stream, client_stream, rpc, server_stream, service, wire_type


@wire_type("shop/Color")
class Color(enum.IntEnum):
    RED = 1
    GREEN = 2
    BLUE = 3


@wire_type("shop/Money")
@dataclass
class Money:
    currency: str = "EUR"
    cents: int = 0


@wire_type("shop/Item")
@dataclass
class Item:
    sku: str = ""
    name: str = ""
    price: Money = field(default_factory=Money)
    color: Color = Color.RED
    tags: list[str] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)
    photo: bytes = b""
    weight_kg: Optional[float] = None


@wire_type("shop/GetItem")
@dataclass
class GetItem:
    sku: str = ""


@wire_type("shop/ItemList")
@dataclass
class ItemList:
    items: list[Item] = field(default_factory=list)
    by_sku: dict[str, Item] = field(default_factory=dict)
    total: int = 0
    note: Optional[str] = None


@wire_type("shop/Watch")
@dataclass
class Watch:
    prefix: str = ""
    limit: int = 3


@wire_type("shop/StockDelta")
@dataclass
class StockDelta:
    sku: str = ""
    delta: int = 0


@wire_type("shop/StockSummary")
@dataclass
class StockSummary:
    count: int = 0
    net: int = 0


@wire_type("shop/Chat")
@dataclass
class Chat:
    text: str = ""
    seq: int = 0


def _catalogue() -> dict[str, Item]:
    return {
        "a1": Item(sku="a1", name="apple", price=Money("EUR", 120), color=Color.GREEN, tags=["fruit"],
                   attributes={"origin": "NL"}, photo=b"\x89PNG", weight_kg=0.2),
        "b2": Item(sku="b2", name="banana", price=Money("EUR", 90), tags=["fruit", "yellow"]),
    }


@service(name="Inventory", version=1)
class Inventory:
    """Stock and catalogue of the example shop."""

    @rpc(timeout=5.0, idempotent=True)
    async def get_item(self, request: GetItem) -> Item:
        return _catalogue().get(request.sku, Item(sku=request.sku))

    @rpc
    async def list_items(self, request: Watch) -> ItemList:
        items = [i for i in _catalogue().values() if i.sku.startswith(request.prefix)]
        return ItemList(items=items, by_sku={i.sku: i for i in items}, total=len(items), note="ok")

    @server_stream
    async def watch(self, request: Watch) -> AsyncIterator[Item]:
        for n in range(request.limit):
            yield Item(sku=f"{request.prefix}{n}", tags=[str(n)])

    @client_stream
    async def adjust(self, requests: AsyncIterator[StockDelta]) -> StockSummary:
        count = net = 0
        async for delta in requests:
            count += 1
            net += delta.delta
        return StockSummary(count=count, net=net)

    @bidi_stream
    async def chat(self, requests: AsyncIterator[Chat]) -> AsyncIterator[Chat]:
        async for msg in requests:
            yield Chat(text=msg.text.upper(), seq=msg.seq + 1)


@wire_type("shop/AddToCart")
@dataclass
class AddToCart:
    sku: str = ""
    quantity: int = 1


@wire_type("shop/CartState")
@dataclass
class CartState:
    lines: dict[str, int] = field(default_factory=dict)
    size: int = 0


@wire_type("shop/Empty")
@dataclass
class Empty:
    pass


@service(name="Cart", version=1, scoped="session")
class Cart:
    """A per-connection shopping cart (session-scoped)."""

    def __init__(self, peer: object = None) -> None:
        self.lines: dict[str, int] = {}

    @rpc
    async def add(self, request: AddToCart) -> CartState:
        self.lines[request.sku] = self.lines.get(request.sku, 0) + request.quantity
        return CartState(lines=dict(self.lines), size=sum(self.lines.values()))

    @rpc
    async def show(self, request: Empty) -> CartState:
        return CartState(lines=dict(self.lines), size=sum(self.lines.values()))
