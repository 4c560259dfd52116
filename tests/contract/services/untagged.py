"""Types without ``@wire_type``: their ids come from this module's name."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from aster import rpc, service, wire_type


class Level(enum.Enum):
    LOW = "low"
    HIGH = "high"


@dataclass
class Ping:
    text: str = ""
    level: Level = Level.LOW


@dataclass
class Pong:
    text: str = ""


@wire_type("echo/Tagged")
@dataclass
class Tagged:
    value: str = ""


@service(name="Echo", version=1)
class Echo:
    @rpc
    async def ping(self, request: Ping) -> Pong:
        return Pong(text=request.text)

    @rpc
    async def tagged(self, request: Tagged) -> Tagged:
        return request
