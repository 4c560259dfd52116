"""Rate limits: fixed windows counted in the database, so every replica and a restart see the
same counts.

A request is counted before anything else runs, so refused requests count too (a client
hammering with bad requests is still limited). A signed request is counted in a transaction of its
own. An unsigned read (discover, describe, check_availability: most of the traffic) is counted in
memory and the counts are written in one transaction at most once per :data:`FLUSH_S` seconds
(:meth:`RateLimits.flush`): a write per read cost more than the read. This server refuses exactly
at the limit; what other replicas counted is seen at its next flush, so a client spreading reads
over replicas gets at most one flush interval of reads past the limit on each.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from aster_server import storage
from aster_server.request import Refused

from .tables import t_rate

LOG = logging.getLogger("aster_server.registry")

#: ``name: (count, seconds)`` per window and subject (a signing key, an email hash or a peer).
#: ``join_email`` bounds the codes one address is mailed (against mail bombing); pending claims
#: themselves never hold an address, so only ten fresh keys an hour could delay its owner.
LIMITS: dict[str, tuple[int, int]] = {
    "check_availability": (30, 60), "join": (3, 3600), "join_email": (10, 3600), "verify": (10, 300),
    "resend_verification": (5, 3600), "recover": (5, 3600), "handle_status": (60, 60),
    "publish": (30, 60), "register_endpoint": (120, 60), "signed": (120, 60), "read": (600, 60),
}


def period_text(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


#: seconds between two writes of the reads counted in memory
FLUSH_S = 1.0


class RateLimits:
    """``hit(name, subject)`` counts one request; RESOURCE_EXHAUSTED past the limit.
    ``overrides`` replaces entries of :data:`LIMITS` (tests, benchmarks, ``--read-limit``)."""

    def __init__(self, engine: Engine, clock: Callable[[], float],
                 overrides: dict[str, tuple[int, int]] | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.limits = {**LIMITS, **(overrides or {})}
        self._lock = threading.Lock()
        #: bucket -> (reads counted here and not written yet, the window's end)
        self._pending: dict[str, tuple[int, int]] = {}
        #: bucket -> (the count the database held at the last flush, every replica's; the window's end)
        self._stored: dict[str, tuple[int, int]] = {}
        #: what the flush under way is writing
        self._inflight: dict[str, tuple[int, int]] = {}
        self._flushed_at = time.monotonic()
        self._flushing = False
        #: seconds between two flushes the reads trigger themselves
        self.flush_every = FLUSH_S

    def _window(self, name: str, subject: str) -> tuple[int, int, str, int, int]:
        count_max, period = self.limits.get(name, self.limits["signed"])
        now = int(self.clock())
        window = now // period
        return count_max, period, f"{name}:{subject}:{window}", (window + 1) * period, now

    def hit(self, name: str, subject: str) -> None:
        """Count one request in its own transaction (signed requests)."""
        count_max, period, bucket, end, now = self._window(name, subject)
        with storage.transaction(self.engine) as conn:
            storage.upsert(conn, t_rate, {"bucket": bucket, "window_end": end, "count": 1}, ["bucket"],
                           {"count": t_rate.c.count + 1})
            count = conn.execute(sa.select(t_rate.c.count).where(t_rate.c.bucket == bucket)).scalar_one()
        _check(name, count, count_max, period, end, now)

    def hit_read(self, name: str, subject: str) -> None:
        """Count one unsigned read in memory; the counts reach the database at the next flush."""
        count_max, period, bucket, end, now = self._window(name, subject)
        with self._lock:
            pending = self._pending.get(bucket, (0, end))[0] + 1
            self._pending[bucket] = (pending, end)
            count = self._stored.get(bucket, (0, end))[0] + self._inflight.get(bucket, (0, end))[0] + pending
            due = not self._flushing and time.monotonic() - self._flushed_at >= self.flush_every
            if due:
                self._flushing = True
        if due:
            try:
                self.flush()
            except Exception as exc:  # noqa: BLE001 - the counts stay in memory for the next flush
                LOG.warning("rate counts not written (next flush retries): %s", str(exc).splitlines()[0])
            finally:
                self._flushing = False
        _check(name, count, count_max, period, end, now)

    def flush(self) -> None:
        """Write the reads counted in memory (one transaction) and learn every replica's counts."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._inflight = pending
            self._flushed_at = time.monotonic()
        if not pending:
            return
        try:
            with storage.transaction(self.engine) as conn:
                for bucket, (n, end) in sorted(pending.items()):  # one order: two replicas cannot deadlock
                    storage.upsert(conn, t_rate, {"bucket": bucket, "window_end": end, "count": n}, ["bucket"],
                                   {"count": t_rate.c.count + n})
                stored = dict(conn.execute(sa.select(t_rate.c.bucket, t_rate.c.count).where(
                    t_rate.c.bucket.in_(list(pending)))).all())
        except Exception:
            with self._lock:  # counted again at the next flush
                self._inflight = {}
                for bucket, (n, end) in pending.items():
                    self._pending[bucket] = (self._pending.get(bucket, (0, end))[0] + n, end)
            raise
        now = int(self.clock())
        with self._lock:
            self._stored.update((b, (c, pending[b][1])) for b, c in stored.items())
            self._stored = {b: v for b, v in self._stored.items() if v[1] > now}  # windows that ended
            self._inflight = {}


def _check(name: str, count: int, count_max: int, period: int, end: int, now: int) -> None:
    if count > count_max:
        raise Refused("RESOURCE_EXHAUSTED",
                      f"rate limit for {name}: {count_max} per {period_text(period)}; retry in {end - now} s")
