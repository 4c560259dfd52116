"""The registry database's core: engine, clock, one transaction per operation, the signed-request
path every signed operation takes, and upkeep.

:meth:`Database.signed` is the order of a signed operation: the rate-limit window is counted in
its own transaction (so refused requests count too), then the nonce is recorded and the
operation runs in **one** transaction, so a refused request stores nothing and a nonce is spent
only by a request that was carried out. An operation may return :class:`Deferred` to commit
and still refuse (a wrong verification code must count as an attempt).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from aster_server import storage
from aster_server.request import Refused

from . import protect, search
from .limits import RateLimits
from .protect import Envelope
from .tables import t_endpoints, t_grants, t_handles, t_nonces, t_rate, t_services

T = TypeVar("T")


@dataclass
class Deferred:
    """A refusal raised after committing (the failed attempt itself must be remembered)."""

    refusal: Refused


def _replayed() -> Refused:
    return Refused("ALREADY_EXISTS", "this request was already received (replayed nonce); send a new request")


class Database:
    """The registry database. ``clock`` returns epoch seconds (tests pass their own);
    ``limits`` overrides rate limits (:data:`.limits.LIMITS`)."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time,
                 limits: dict[str, tuple[int, int]] | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.limits = RateLimits(engine, clock, limits)
        #: write transactions this process has committed (or tried): what a kept discover page
        #: was read under (:mod:`.pagecache`)
        self.generation = 0
        with engine.connect() as conn:
            #: how word queries are served: "fts5", "pg_trgm+tsvector" or "scan" (SQLite without FTS5)
            self.search_backend = search.backend(conn)

    def now(self) -> int:
        return int(self.clock())

    def write(self, fn: Callable[[Connection], T], *, changes_answers: bool = True) -> T:
        """``fn(conn)`` in one write transaction (writers to one handle queue on its row lock).
        ``changes_answers=False`` for a write no read answers differently after (a kept match
        count): it leaves ``generation`` alone, so the page being read beside it is still kept."""
        try:
            with storage.transaction(self.engine) as conn:
                return fn(conn)
        finally:
            if changes_answers:
                self.generation += 1  # after the commit: a page read before it is not kept

    def read(self, fn: Callable[[Connection], T]) -> T:
        with storage.transaction(self.engine, write=False) as conn:
            return fn(conn)

    def signed(self, env: Envelope, limit: str, fn: Callable[[Connection, Envelope], Any]) -> Any:
        """Rate-limit ``env.signer`` under ``limit``, then spend the nonce and run ``fn`` in one
        transaction."""
        self.limits.hit(limit, env.signer)
        now = self.now()

        def body(conn: Connection) -> Any:
            # a replica racing with the same nonce waits on the key, then finds it taken
            if not storage.insert_ignore(conn, t_nonces, {"signer": env.signer, "nonce": env.nonce, "seen_at": now},
                                         ["signer", "nonce"]):
                raise _replayed()
            return fn(conn, env)

        try:
            result = self.write(body)
        except sa.exc.IntegrityError:  # a unique key refused a racing writer (e.g. two joins of one handle)
            raise Refused("ABORTED", "a concurrent request changed the same record; nothing was stored, "
                                     "send the request again") from None
        if isinstance(result, Deferred):
            raise result.refusal
        return result

    # ------------------------------------------------------------------ upkeep

    def reap(self) -> dict[str, int]:
        """Drop stale endpoints, nonces past their window, rate windows and expired pending handles."""
        now = self.now()

        def body(conn: Connection) -> dict[str, int]:
            return {
                "endpoints": conn.execute(t_endpoints.delete().where(t_endpoints.c.expires_at < now)).rowcount,
                "nonces": conn.execute(t_nonces.delete().where(
                    t_nonces.c.seen_at < now - protect.NONCE_WINDOW_S - protect.SKEW_S)).rowcount,
                "rate_windows": conn.execute(t_rate.delete().where(t_rate.c.window_end < now)).rowcount,
                "pending_handles": conn.execute(t_handles.delete().where(
                    t_handles.c.status == "pending", t_handles.c.verification_expires_at < now)).rowcount,
            }

        return self.write(body)

    def counts(self) -> dict[str, int]:
        now = self.now()

        def body(conn: Connection) -> dict[str, int]:
            def n(table: sa.Table, *where: Any) -> int:
                return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()

            return {"handles": n(t_handles), "verified_handles": n(t_handles, t_handles.c.status == "verified"),
                    "pending_handles": n(t_handles, t_handles.c.status == "pending"),
                    "services": n(t_services), "public_services": n(t_services, t_services.c.visibility == "public"),
                    "endpoints": n(t_endpoints), "live_endpoints": n(t_endpoints, t_endpoints.c.expires_at >= now),
                    "grants": n(t_grants), "nonces": n(t_nonces)}

        return self.read(body)
