"""aster_server.pagecache.PageCache: an answer kept a moment, never one read while a write committed."""

from __future__ import annotations

import threading
import time

from aster_server.pagecache import PageCache


class BlockedRead:
    """``cache.get_or_read(key, ...)`` in a thread whose read blocks until :meth:`release`:
    ``started`` is set once the read runs, ``answers`` holds what the call returned."""

    def __init__(self, cache: PageCache, key: str, value: str, reads: list[str] | None = None) -> None:
        self.started, self._release = threading.Event(), threading.Event()
        self.answers: list[str] = []

        def read() -> str:
            if reads is not None:
                reads.append("leader")
            self.started.set()
            assert self._release.wait(10)
            return value

        self.thread = threading.Thread(target=lambda: self.answers.append(cache.get_or_read(key, lambda: 0, read)))
        self.thread.start()
        assert self.started.wait(10)

    def release(self) -> None:
        self._release.set()
        self.thread.join(10)


def test_a_page_read_while_a_write_committed_is_not_kept():
    now = [100.0]
    cache = PageCache(ttl=10, clock=lambda: now[0])
    generation = [0]

    def read_during_a_write() -> str:
        generation[0] += 1  # a write committed while the page was read
        return "old"

    assert cache.get_or_read("q", lambda: generation[0], read_during_a_write) == "old"
    assert cache.get_or_read("q", lambda: generation[0], lambda: "new") == "new"  # not served "old"
    assert cache.get_or_read("q", lambda: generation[0], lambda: "newer") == "new"  # kept now
    now[0] += 10
    assert cache.get_or_read("q", lambda: generation[0], lambda: "newer") == "newer"  # TTL passed
    now[0] -= 5  # a clock stepped back never makes a page live longer
    assert cache.get_or_read("q", lambda: generation[0], lambda: "newest") == "newest"
    small = PageCache(ttl=10, size=2, clock=lambda: now[0])
    for key in ("a", "b", "c"):
        small.get_or_read(key, lambda: 0, lambda k=key: k)
    assert small.get_or_read("a", lambda: 0, lambda: "read again") == "read again"  # the oldest was dropped


def test_requests_for_a_page_being_read_wait_for_that_read():
    cache = PageCache(ttl=10)
    reads: list[str] = []
    leader = BlockedRead(cache, "q", "page", reads)
    answers = leader.answers
    arrived = threading.Semaphore(0)

    def generation() -> int:  # called as a request arrives
        arrived.release()
        return 0

    followers = [threading.Thread(target=lambda: answers.append(
        cache.get_or_read("q", generation, lambda: reads.append("follower") or "again"))) for _ in range(5)]
    for t in followers:
        t.start()
    for _ in followers:
        assert arrived.acquire(timeout=10)
    time.sleep(0.2)  # from its generation to its wait: a few lines under a lock
    # another key and another generation are not held behind the read in progress
    assert cache.get_or_read("other", lambda: 0, lambda: "other") == "other"
    assert cache.get_or_read("q", lambda: 1, lambda: "after a write") == "after a write"
    leader.release()
    for t in followers:
        t.join(10)
    assert reads == ["leader"] and answers == ["page"] * 6


def test_a_failed_read_is_not_shared_the_waiting_requests_read_themselves():
    cache = PageCache(ttl=10)
    started, release = threading.Event(), threading.Event()

    def failing_read() -> str:
        started.set()
        assert release.wait(10)
        raise RuntimeError("database gone")

    errors: list[BaseException] = []

    def lead() -> None:
        try:
            cache.get_or_read("q", lambda: 0, failing_read)
        except RuntimeError as exc:
            errors.append(exc)

    leader = threading.Thread(target=lead)
    leader.start()
    assert started.wait(10)
    answers: list[str] = []
    follower = threading.Thread(target=lambda: answers.append(cache.get_or_read("q", lambda: 0, lambda: "read again")))
    follower.start()
    release.set()
    leader.join(10)
    follower.join(10)
    assert len(errors) == 1 and answers == ["read again"]
    assert cache.get_or_read("q", lambda: 0, failing_read) == "read again"  # the follower's answer was kept


def test_a_page_near_its_expiry_is_read_ahead_by_one_request_while_the_others_are_served():
    from aster_server.pagecache import REFRESH_AT

    now = [100.0]
    cache = PageCache(ttl=1.0, clock=lambda: now[0])
    assert cache.get_or_read("q", lambda: 0, lambda: "v1") == "v1"
    now[0] += REFRESH_AT / 2
    assert cache.get_or_read("q", lambda: 0, lambda: "not read") == "v1"  # young: kept
    now[0] = 100.0 + REFRESH_AT + (1.0 - REFRESH_AT) / 2  # old, not expired
    reader = BlockedRead(cache, "q", "v2")
    # while one request reads ahead, the others get the kept answer at once (no wait, no read)
    assert [cache.get_or_read("q", lambda: 0, lambda: "not read") for _ in range(3)] == ["v1"] * 3
    reader.release()
    assert reader.answers == ["v2"]
    assert cache.get_or_read("q", lambda: 0, lambda: "not read") == "v2"  # kept from its read time
    now[0] += 1.0  # every answer served is younger than the TTL
    assert cache.get_or_read("q", lambda: 0, lambda: "v3") == "v3"
