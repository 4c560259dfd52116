"""A service whose streams fail, and a method name wider than a terminal (tests/mcp/test_adversarial.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import AsyncIterator

from aster import RpcError, StatusCode, bidi_stream, rpc, server_stream, service, wire_type

NS = "astermcptest"
LONG_NAME = "a_method_whose_name_is_wider_than_any_terminal_table_column_would_ever_allow_for_it"


@wire_type(f"{NS}/Ask")
@dataclass
class Ask:
    n: int = 0


@wire_type(f"{NS}/Tick")
@dataclass
class Tick:
    index: int = 0


@wire_type(f"{NS}/Report")
@dataclass
class Report:
    error: str = ""   # a response field called `error`: an error result cannot be shaped as this


@service(name="Faulty", version=1)
class Faulty:
    @server_stream
    async def ticks(self, req: Ask) -> AsyncIterator[Tick]:
        """Yield ``n`` ticks, then fail."""
        for index in range(req.n):
            yield Tick(index=index)
        raise RpcError(StatusCode.FAILED_PRECONDITION, "the ticks ran out")

    @bidi_stream
    async def echoes(self, reqs: AsyncIterator[Ask]) -> AsyncIterator[Tick]:
        """Answer the first message, then fail."""
        async for req in reqs:
            yield Tick(index=req.n)
            raise RpcError(StatusCode.RESOURCE_EXHAUSTED, "one echo only")

    @rpc
    async def report(self, req: Ask) -> Report:
        """Fail, from a method whose response has an `error` field."""
        raise RpcError(StatusCode.INTERNAL, "no report today")

    @rpc
    async def a_method_whose_name_is_wider_than_any_terminal_table_column_would_ever_allow_for_it(
            self, req: Ask) -> Tick:
        return Tick(index=req.n)
