"""Importing the MCP SDK in a thread: its import (pydantic models for every protocol version) is
most of ``aster mcp``'s start-up, so it runs beside the work that does not need it.

It starts first thing (``aster mcp`` calls :func:`start_sdk_import` before importing the
runtime): it shares the interpreter lock with the runtime's import and the dial, but fills
the time they spend outside it (native code, the network). Measured side by side, starting
it only once the catalogue was ready gave the same ``tools/list`` and a first ``tools/call``
about 1.4x later (``benchmarks/bench_mcp.py --versus-released``). On stdio ``tools/list``
does not wait for it (:mod:`aster_mcp.listing`).
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
