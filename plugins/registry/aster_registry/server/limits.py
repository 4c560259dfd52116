"""Rate limits: fixed windows counted in the database, so every replica and a restart see the
same counts.

A request is counted in a transaction of its own before anything else runs, so refused
requests count too (a client hammering with bad requests is still limited).
"""

from __future__ import annotations

from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from aster_server import storage
from aster_server.request import Refused

from .tables import t_rate

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


class RateLimits:
    """``hit(name, subject)`` counts one request; RESOURCE_EXHAUSTED past the limit.
    ``overrides`` replaces entries of :data:`LIMITS` (tests, benchmarks)."""

    def __init__(self, engine: Engine, clock: Callable[[], float],
                 overrides: dict[str, tuple[int, int]] | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.limits = {**LIMITS, **(overrides or {})}

    def hit(self, name: str, subject: str) -> None:
        count_max, period = self.limits.get(name, self.limits["signed"])
        now = int(self.clock())
        window = now // period
        bucket = f"{name}:{subject}:{window}"
        end = (window + 1) * period
        with storage.transaction(self.engine) as conn:
            storage.upsert(conn, t_rate, {"bucket": bucket, "window_end": end, "count": 1}, ["bucket"],
                           {"count": t_rate.c.count + 1})
            count = conn.execute(sa.select(t_rate.c.count).where(t_rate.c.bucket == bucket)).scalar_one()
        if count > count_max:
            raise Refused("RESOURCE_EXHAUSTED",
                          f"rate limit for {name}: {count_max} per {period_text(period)}; retry in {end - now} s")
