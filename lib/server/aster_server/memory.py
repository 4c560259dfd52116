"""Memory given back after a load ends: :func:`trim_when_idle`.

Under many clients a server's heap grows (connections, answers being encoded, the runtime's
buffers): 105 MiB at rest, 136-148 MiB after 150 clients in the bench_servers run. Python frees
those objects when the load ends but the C allocator keeps the pages, so the process stays at its
peak. Once no call has arrived for :data:`IDLE_S` seconds after some did, the server runs the
garbage collector and asks glibc to return free pages (``malloc_trim(0)``; elsewhere only the
collection runs). Nothing runs while calls keep arriving.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import logging
from typing import Any

__all__ = ["IDLE_S", "trim", "trim_when_idle"]

LOG = logging.getLogger("aster_server.memory")

#: seconds without a new call after which the memory a load used is given back
IDLE_S = 5.0


def trim() -> bool:
    """Collect garbage and return free heap pages to the system; False where glibc's
    ``malloc_trim`` is missing (only the collection ran)."""
    gc.collect()
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        ctypes.CDLL(name).malloc_trim(0)
        return True
    except (OSError, AttributeError):
        return False


async def trim_when_idle(log: Any, stop: asyncio.Event, idle: float = IDLE_S) -> None:
    """Until ``stop``: after calls arrived (``log.calls`` moved, a
    :class:`aster_server.requestlog.RequestLog`) and then none for ``idle`` seconds, :func:`trim`
    once (in a worker thread: a collection of a large heap takes a moment)."""
    seen, trimmed = log.calls, True
    while not stop.is_set():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), idle)
            return
        if log.calls != seen:
            seen, trimmed = log.calls, False
        elif not trimmed and not log.in_flight:
            trimmed = True
            await asyncio.to_thread(trim)
            LOG.debug("memory trimmed after the load")
