"""Consumer admission answers that reach the client under a burst: :func:`hold_admission_connections`.

The runtime (aster-rpc 0.1.2) answers a consumer's admission on a connection of its own, then
returns from its handler without closing it (closing would cut the answer off). But returning
drops the handler's last reference to the connection, and dropping the last reference closes a
QUIC connection at once: when the client has not read the answer yet (many connections arriving
together, a loaded machine) it gets ``read error: connection lost`` and no connection. Measured
on loopback against a bare ``AsterServer`` (docs/runtime-notes.md, "Bursts of new connections"):
31-48 of 50 simultaneous connects lost; with the connection held, 0 of 150.

:func:`hold_admission_connections` wraps the runtime's handler so the connection is kept until the
client closes it (it does as soon as it has read the answer), for at most :data:`HOLD_S` seconds.
Both servers install it before they start (:func:`aster_server.lifecycle.build_server`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

__all__ = ["HOLD_S", "hold_admission_connections"]

LOG = logging.getLogger("aster_server.admission")

#: longest a served admission connection is kept waiting for its client to close it
HOLD_S = 10.0


def hold_admission_connections() -> bool:
    """Install the holding wrapper around the runtime's consumer admission handler (once per
    process). False when this runtime has no such handler where 0.1.2 keeps it."""
    try:
        import aster.runtime as runtime
    except ImportError:  # pragma: no cover - every aster-rpc 0.1.x has it
        return False
    handler = getattr(runtime, "handle_consumer_admission_connection", None)
    if handler is None:
        LOG.warning("this runtime has no consumer admission handler to wrap; bursts of connections may lose some")
        return False
    if getattr(handler, "holds_connection", False):
        return True

    async def held(conn: Any, *args: Any, **kwargs: Any) -> None:
        try:
            await handler(conn, *args, **kwargs)
        finally:
            # ``conn`` stays referenced here until the client closed it (or HOLD_S passed)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.closed(), HOLD_S)

    held.holds_connection = True  # type: ignore[attr-defined]
    runtime.handle_consumer_admission_connection = held
    return True
