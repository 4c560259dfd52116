"""Run coroutines from plain (sync) pytest tests: the suite has no asyncio plugin."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, TypeVar

T = TypeVar("T")


def run(coro: Awaitable[T], timeout: float = 30.0) -> T:
    """``asyncio.run`` with a hard timeout, so a hung call fails instead of hanging the suite.

    ``aster`` is imported first: it installs uvloop's loop policy, and with the
    standard asyncio loop the released runtime crashes at interpreter exit in
    about half of the runs (docs/runtime-notes.md).
    """
    import aster  # noqa: F401  (see above)

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
