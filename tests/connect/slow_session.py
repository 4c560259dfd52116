"""A session-scoped service with slow methods, to cancel calls in the middle of a session
(tests/connect/test_cancel.py, tests/mcp/test_cancel.py). Served as
``tests.connect.slow_session:NapCounter``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import AsyncIterator

from aster import rpc, server_stream, service, wire_type

NS = "asterconnecttest"


@wire_type(f"{NS}/Amount")
@dataclass
class Amount:
    amount: int = 0


@wire_type(f"{NS}/Nap")
@dataclass
class Nap:
    ms: int = 0
    amount: int = 0


@wire_type(f"{NS}/Drip")
@dataclass
class Drip:
    n: int = 0
    ms: int = 0


@wire_type(f"{NS}/Drop")
@dataclass
class Drop:
    index: int = 0


@wire_type(f"{NS}/Tally")
@dataclass
class Tally:
    total: int = 0
    done: int = 0


@service(name="NapCounter", version=1, scoped="session")
class NapCounter:
    """A per-session total; ``nap`` adds its amount only if it is not cancelled first."""

    def __init__(self, peer: object = None) -> None:
        self._total = 0
        self._done = 0

    def _tally(self) -> Tally:
        return Tally(total=self._total, done=self._done)

    @rpc
    async def add(self, req: Amount) -> Tally:
        """Add ``amount`` at once."""
        self._total += req.amount
        self._done += 1
        return self._tally()

    @rpc
    async def total(self, req: Amount) -> Tally:
        """The session's total so far (``amount`` is ignored)."""
        return self._tally()

    @rpc(timeout=60.0)
    async def nap(self, req: Nap) -> Tally:
        """Sleep ``ms`` milliseconds, then add ``amount``."""
        await asyncio.sleep(req.ms / 1000)
        self._total += req.amount
        self._done += 1
        return self._tally()

    @server_stream
    async def drip(self, req: Drip) -> AsyncIterator[Drop]:
        """Yield ``n`` items, one every ``ms`` milliseconds."""
        for index in range(req.n):
            await asyncio.sleep(req.ms / 1000)
            yield Drop(index=index)
