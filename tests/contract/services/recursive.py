"""Recursive types: the runtime (aster-rpc 0.1.2) handles them only outside XLANG.

``Tree`` uses native serialization, which the runtime's contract identity
supports (cycles are broken with self references). The XLANG twin lives in
``recursive_xlang.py``: importing it fails inside the runtime's decorator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from aster import SerializationMode, rpc, service, wire_type


@wire_type("tree/Node")
@dataclass
class Node:
    name: str = ""
    children: list[Node] = field(default_factory=list)
    parent: Optional[Node] = None


@wire_type("tree/Count")
@dataclass
class Count:
    nodes: int = 0


@service(name="Tree", version=1, serialization=[SerializationMode.NATIVE])
class Tree:
    @rpc
    async def count(self, request: Node) -> Count:
        def walk(n: Node) -> int:
            return 1 + sum(walk(c) for c in n.children)
        return Count(nodes=walk(request))
