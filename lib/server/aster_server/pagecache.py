"""Answers of a listing kept for a moment: :class:`PageCache` (both servers' hottest reads).

A discover of a popular word ranks up to 500 rows per request (the registry), a plan list
parses and renders every listed plan (the authority), and the same few requests arrive again
and again (a listing, a CLI in a loop, a dashboard). The cache holds an answer for
:data:`TTL_S` seconds of the store's clock, keyed by the request:

- a write the server commits (any of its store's write transactions that can change an
  answer, which count ``generation``; the registry's keeping of a match count does not) makes
  every kept answer stale at once, so a client sees its own change in its next read;
- what another replica sharing the database wrote, and what time alone changes (an endpoint's
  or a plan's expiry), is seen within :data:`TTL_S`;
- an answer read while a write committed is not kept (the generation it was read under is
  compared when it is stored), so the cache never holds an answer older than the last local write;
- one read per key at a time: requests for a key that is being read (under the same generation)
  wait for that read's answer instead of running the same query beside it. When a page expires
  under load, every request arriving during its re-read missed too and ran the query again:
  at 10 clients that was up to ten ranked 500-row windows at once, each slowing the others;
- read ahead: the first request to find its page older than :data:`REFRESH_AT` of the TTL reads
  it again for itself while the others are still served the kept answer, so under steady load
  the page is renewed before it expires and no request waits for a re-read (the requests that
  waited once a second for it were the registry's p99 at 50 clients). Every answer served is
  still younger than the TTL.

Used by the registry's discover and the authority's plan list. Imports nothing heavy.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Callable

__all__ = ["MAX_PAGES", "PageCache", "REFRESH_AT", "TTL_S", "WAIT_S"]

#: how long a page is served from memory (another replica's writes show within this)
TTL_S = 1.0
#: pages kept at most (least recently used dropped first)
MAX_PAGES = 1024
#: the part of the TTL after which the next request reads its page again ahead of the expiry
REFRESH_AT = 0.8


#: longest a request waits for another request's read of the same page before reading itself
WAIT_S = 30.0


class _Read:
    """A read of one page in progress: the requests that arrive meanwhile wait for its answer."""

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.done = threading.Event()
        self.answered = False
        self.value: Any = None


class PageCache:
    """``get_or_read(key, generation, read)``: a kept answer, or ``read()``'s, kept when
    ``generation()`` (the database's count of committed local writes) did not move meanwhile.
    Concurrent misses of one key under one generation run ``read`` once."""

    def __init__(self, ttl: float = TTL_S, size: int = MAX_PAGES, clock: Callable[[], float] = time.time):
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._lock = threading.Lock()
        self._pages: OrderedDict[Any, tuple[float, int, Any]] = OrderedDict()
        self._reading: dict[Any, _Read] = {}

    def get_or_read(self, key: Any, generation: Callable[[], int], read: Callable[[], Any]) -> Any:
        now = self.clock()
        gen = generation()
        with self._lock:
            kept = self._pages.get(key)
            running = self._reading.get(key)
            if kept is not None and kept[1] == gen and 0 <= now - kept[0] < self.ttl:
                self._pages.move_to_end(key)
                # young enough, or being read ahead by another request already: the kept answer
                if now - kept[0] < self.ttl * REFRESH_AT or (running is not None and running.generation == gen):
                    return kept[2]
            leading = running is None or running.generation != gen
            if leading:
                running = self._reading[key] = _Read(gen)
        assert running is not None
        if not leading:
            # read under the same generation, after this page expired: as fresh as a kept answer
            if not running.done.wait(WAIT_S):
                return read()  # that read hangs: this request reads for itself
            if running.answered:
                return running.value
            return self.get_or_read(key, generation, read)  # that read failed: the next one leads
        try:
            value = read()
            running.value, running.answered = value, True
        finally:
            with self._lock:
                if self._reading.get(key) is running:
                    del self._reading[key]
                if running.answered and generation() == gen:
                    self._pages[key] = (now, gen, running.value)
                    self._pages.move_to_end(key)
                    while len(self._pages) > self.size:
                        self._pages.popitem(last=False)
            running.done.set()
        return value

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
