"""Version 2 of the example Inventory: one method removed, one added, a field added."""

from __future__ import annotations

from dataclasses import dataclass
from typing import AsyncIterator

from aster import rpc, server_stream, service, wire_type

from .shop import GetItem, Item, ItemList, Watch


@wire_type("shop/Search")
@dataclass
class Search:
    query: str = ""
    limit: int = 10
    include_hidden: bool = False


@service(name="Inventory", version=2)
class InventoryV2:
    @rpc(timeout=5.0, idempotent=True)
    async def get_item(self, request: GetItem) -> Item:
        return Item(sku=request.sku)

    @rpc
    async def search(self, request: Search) -> ItemList:
        return ItemList()

    @server_stream
    async def watch(self, request: Watch) -> AsyncIterator[Item]:
        yield Item(sku=request.prefix)
