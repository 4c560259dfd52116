"""Run coroutines from plain (sync) pytest tests: the suite has no asyncio plugin."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, TypeVar

T = TypeVar("T")


def run(coro: Awaitable[T], timeout: float = 30.0) -> T:
    """``asyncio.run`` with a hard timeout, so a hung call fails instead of hanging the suite."""

    async def _bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(_bounded())


async def with_client(address: str, body: Callable[[Any], Awaitable[T]], **client_kwargs: Any) -> T:
    """Connect a runtime ``AsterClient`` to ``address``, run ``body(client)``, always close."""
    from aster import AsterClient

    client = AsterClient(address=address, **client_kwargs)
    try:
        await client.connect()
        return await body(client)
    finally:
        await client.close()
