"""aster_server.pagecache.PageCache: an answer kept a moment, never one read while a write committed."""

from __future__ import annotations

from aster_server.pagecache import PageCache


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
