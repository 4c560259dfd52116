"""Importing the MCP SDK in a thread: its import (pydantic models for every protocol version) is
most of ``aster mcp``'s start-up, so it runs beside the work that does not need it.

On stdio it starts once the peer's catalogue is read (:mod:`aster_mcp.listing`), or as soon
as a line other than ``initialize``, ``notifications/initialized`` or a plain ``tools/list``
needs the SDK: the import shares the interpreter lock, and started first thing it slowed the
runtime's import, the dial and the manifests that ``tools/list`` waits for. Measured side by
side on a quiet machine (``benchmarks/bench_mcp.py --versus-released``, warm caches):
spawn to ``tools/list`` 0.63-0.68x the released tool's at 1 service when started first,
0.31-0.32x started after the catalogue (20 services 0.51 -> 0.28x, 100: 0.37 -> 0.18x); the
first ``tools/call`` 1.27-1.31x -> 1.13-1.14x at 1 service, 0.88 -> 0.93x at 20, 0.46 ->
0.51x at 100. Over HTTP the SDK answers everything, so it is imported at once.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

MODULES = ("mcp_types", "mcp.server.lowlevel", "mcp.server.stdio", "mcp.server.subscriptions",
           "mcp.shared.exceptions")
_thread: Any = None
_lock = threading.Lock()


def start_sdk_import() -> None:
    """Begin importing the MCP SDK in a thread (once; later calls do nothing)."""
    global _thread
    with _lock:
        if _thread is not None:
            return

        def load() -> None:
            import importlib

            for name in MODULES:
                try:
                    importlib.import_module(name)
                except Exception:  # noqa: BLE001 - imported again (and reported) on the main path
                    return

        _thread = threading.Thread(target=load, name="aster-mcp-sdk-import", daemon=True)
        _thread.start()


def sdk_import_started() -> bool:
    return _thread is not None


async def sdk_imported() -> None:
    """Start the import if nobody has, and wait (without blocking the event loop) for it to end."""
    start_sdk_import()
    if _thread.is_alive():
        await asyncio.to_thread(_thread.join)
