"""A self-referencing message in an XLANG service: aster-rpc 0.1.2 cannot import this."""

from __future__ import annotations

from dataclasses import dataclass, field

from aster import rpc, service, wire_type


@wire_type("forest/Branch")
@dataclass
class Branch:
    label: str = ""
    branches: list[Branch] = field(default_factory=list)


@wire_type("forest/Ack")
@dataclass
class Ack:
    ok: bool = True


@service(name="Forest", version=1)
class Forest:
    @rpc
    async def plant(self, request: Branch) -> Ack:
        return Ack()
