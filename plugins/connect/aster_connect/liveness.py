"""Noticing, during a call, a peer that vanished without closing its connection.

A peer that stops (SIGTERM, ``close()``) closes its QUIC connection, and every read
on it ends at once. A peer that is killed, or whose machine drops off the network,
says nothing: QUIC notices only through its idle timeout (about 30 s, which the
runtime does not let us configure), so a call would sit out its whole deadline and
then blame the deadline.

So while calls wait on a connection, :class:`PeerWatch` keeps an eye on the bytes it
receives. Once nothing has arrived for :data:`QUIET` seconds it sends a one-byte QUIC
datagram every :data:`PROBE_EVERY` seconds. Datagrams are acknowledged by the peer's
QUIC stack (its application never reads them: the runtime's servers ignore
datagrams), so a live peer answers each one within a round trip. When nothing at all
has arrived for :data:`GIVE_UP` seconds of probing (longer on a slow path: eight
round trips at least), the watch closes the connection itself: every read on it ends
at once, and the calls say the peer closed the connection. A peer that does not take
datagrams is not probed (its calls fall back to their deadline).

One watch serves every call in flight on a connection; it runs only while there is
one (:func:`watch_peer`), so an idle connection sends nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .errors import CallUnavailable

__all__ = ["GIVE_UP", "PROBE_EVERY", "QUIET", "PeerWatch", "watch_peer"]

#: seconds without a received byte before the first probe
QUIET = 1.0
#: seconds between probes while the peer stays silent
PROBE_EVERY = 0.5
#: seconds of probing without any byte back before the peer counts as gone
GIVE_UP = 3.0
#: round trips a probe may take before silence counts (so a slow path is not taken for a dead peer)
ROUND_TRIPS = 8
#: the QUIC application error code of a connection we close because its peer went silent
CLOSE_CODE = 1
CLOSE_REASON = b"peer stopped answering"
PROBE = b"\x00"

_watches: dict[int, "PeerWatch"] = {}


class PeerWatch:
    """The watch over one runtime connection (``IrohConnection``); see the module's docstring."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        #: True once the watch gave the peer up and closed the connection
        self.gone = False
        #: seconds the peer had been silent when it was given up
        self.silent_for = 0.0
        self._users = 0
        self._task: asyncio.Task | None = None

    def _join(self) -> None:
        self._users += 1
        if self._task is None and not self.gone and _takes_datagrams(self.conn):
            self._task = asyncio.ensure_future(self._watch())

    def release(self) -> None:
        """The call this watch was taken for has ended."""
        self._users -= 1
        if self._users <= 0:
            if _watches.get(id(self.conn)) is self:
                del _watches[id(self.conn)]
            if self._task is not None and not self._task.done():
                self._task.cancel()

    async def _watch(self) -> None:
        try:
            await self._until_silent()
        except Exception:  # noqa: BLE001 - the connection went away under us: its reads end by themselves
            return

    async def _until_silent(self) -> None:
        loop = asyncio.get_running_loop()
        conn = self.conn
        received = conn.bytes_recv()
        heard = probed = loop.time()
        while True:
            await asyncio.sleep(PROBE_EVERY / 2)
            now = loop.time()
            if conn.bytes_recv() != received:
                received, heard = conn.bytes_recv(), now
                continue
            silent = now - heard
            if silent < QUIET:
                continue
            if silent >= QUIET + max(GIVE_UP, ROUND_TRIPS * _rtt(conn)):
                self.gone, self.silent_for = True, silent
                conn.close(CLOSE_CODE, CLOSE_REASON)  # every read on it ends now
                return
            if now - probed >= PROBE_EVERY:
                probed = now
                conn.send_datagram(PROBE)

    def error(self) -> CallUnavailable:
        """What a call on the connection reports once the watch gave its peer up."""
        return CallUnavailable("UNAVAILABLE", f"the peer closed the connection: it stopped answering during the call "
                                              f"(nothing received for {self.silent_for:.1f}s, probes unanswered)",
                               "The server may have stopped or crashed, or the network dropped; check that it "
                               "runs, then try again.")


def watch_peer(conn: Any) -> PeerWatch:
    """Watch ``conn``'s peer for one call waiting on it, until :meth:`PeerWatch.release`."""
    watch = _watches.get(id(conn))
    if watch is None or watch.conn is not conn:
        watch = _watches[id(conn)] = PeerWatch(conn)
    watch._join()
    return watch


def _takes_datagrams(conn: Any) -> bool:
    try:
        return bool(conn.max_datagram_size())
    except Exception:  # noqa: BLE001 - not a runtime connection, or already closed
        return False


def _rtt(conn: Any) -> float:
    try:
        return float(conn.rtt_ms()) / 1000
    except Exception:  # noqa: BLE001 - no estimate yet
        return 0.0
