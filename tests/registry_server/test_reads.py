"""Unsigned reads without a write per read, on both dialects: read counts kept in memory and
flushed (two replicas on one database see each other's counts at their flush), and discover's
pages kept a second or until this server writes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from aster_registry.server import counts, tables
from aster_registry.server.limits import RateLimits
from aster_server.request import Refused

from .support import Key, open_store, publish_fields, store_op


def _stored_count(engine, name: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.coalesce(sa.func.sum(tables.t_rate.c.count), 0)).where(
            tables.t_rate.c.bucket.like(f"{name}:%"))).scalar_one()


def test_reads_counted_in_memory_refused_at_the_limit_and_flushed(database_url, clock):
    with open_store(database_url, clock) as reg:
        limits = RateLimits(reg.engine, clock, {"read": (5, 60)})
        for _ in range(5):
            limits.hit_read("read", "peer-a")
        with pytest.raises(Refused) as info:
            limits.hit_read("read", "peer-a")  # refused at once, before any write
        assert info.value.status.name == "RESOURCE_EXHAUSTED" and "5 per 1 min" in info.value.message
        limits.hit_read("read", "peer-b")  # counted per caller
        assert _stored_count(reg.engine, "read") == 0  # nothing written per read
        limits.flush()
        assert _stored_count(reg.engine, "read") == 7  # the refused read counts too
        limits.flush()  # nothing new: nothing written
        assert _stored_count(reg.engine, "read") == 7
        # another replica on the same database learns those counts at its flush
        other = RateLimits(reg.engine, clock, {"read": (8, 60)})
        other.hit_read("read", "peer-a")
        other.flush()
        other.hit_read("read", "peer-a")  # 6 + 1 stored, 1 here: 8, the limit
        with pytest.raises(Refused):
            other.hit_read("read", "peer-a")
        # a new window starts from nothing
        clock.now += 60
        limits.hit_read("read", "peer-a")


def test_reads_flush_on_their_own_every_interval(database_url, clock):
    with open_store(database_url, clock) as reg:
        limits = RateLimits(reg.engine, clock, {"read": (100, 60)})
        limits.flush_every = 0.0  # every read is due: the flush the reads trigger themselves
        limits.hit_read("check_availability", "peer-c")
        limits.hit_read("check_availability", "peer-c")
        assert _stored_count(reg.engine, "check_availability") == 2


@pytest.mark.parametrize("keep_after", [0.0, 3600.0], ids=["counts-kept", "counts-not-kept"])
def test_discover_pages_kept_until_a_local_write_or_the_ttl(database_url, clock, monkeypatch, keep_after):
    # a count that took long is kept by a write after the read (counts.KEEP_AFTER; a loaded CI
    # machine crosses it at random): when the replica's read keeps it, that write changes no
    # answer and must not drop the replica's page
    monkeypatch.setattr(counts, "KEEP_AFTER", 3600.0)  # this server's reads keep nothing
    with open_store(database_url, clock) as reg, open_store(database_url, clock) as replica:
        key = Key()
        with reg.engine.begin() as conn:
            conn.execute(tables.t_handles.insert(), [{
                "handle": "alice", "pubkey": key.pub, "email": "alice@example.org",
                "email_hash": tables.email_hash("alice@example.org"), "status": "verified", "announcements": False,
                "created_at": int(clock.now), "verification_expires_at": int(clock.now)}])
        reg.limits.limits["publish"] = replica.limits.limits["publish"] = (100, 60)
        store_op(reg, key, "publish", **publish_fields("alice", "FirstTask"))

        def names(store) -> list[str]:  # (their order is the ranking's: test_search)
            return sorted(e["service_name"] for e in store.directory.discover("task", 20, 0)[1])

        assert names(reg) == ["FirstTask"]
        clock.now += 1
        store_op(reg, key, "publish", **publish_fields("alice", "SecondTask"))
        assert names(reg) == ["FirstTask", "SecondTask"]  # this server's write: seen at once
        monkeypatch.setattr(counts, "KEEP_AFTER", keep_after)
        assert names(replica) == ["FirstTask", "SecondTask"]
        store_op(reg, key, "publish", **publish_fields("alice", "ThirdTask"))  # within the replica's second
        assert names(replica) == ["FirstTask", "SecondTask"]  # another replica's write: kept a moment ...
        clock.now += 1.01
        assert names(replica) == ["FirstTask", "SecondTask", "ThirdTask"]  # ... at most the TTL
        # pages differ by query, limit and offset
        first, second = (reg.directory.discover("task", 1, k)[1] for k in (0, 1))
        assert len(first) == len(second) == 1 and first != second
