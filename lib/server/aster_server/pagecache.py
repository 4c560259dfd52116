"""Answers of a listing kept for a moment: :class:`PageCache` (both servers' hottest reads).

A discover of a popular word ranks up to 500 rows per request (the registry), a plan list
parses and renders every listed plan (the authority), and the same few requests arrive again
and again (a listing, a CLI in a loop, a dashboard). The cache holds an answer for
:data:`TTL_S` seconds of the store's clock, keyed by the request:

- a write the server commits (any of its store's write transactions, which count
  ``generation``) makes every kept answer stale at once, so a client sees its own change in
  its next read;
- what another replica sharing the database wrote, and what time alone changes (an endpoint's
  or a plan's expiry), is seen within :data:`TTL_S`;
- an answer read while a write committed is not kept (the generation it was read under is
  compared when it is stored), so the cache never holds an answer older than the last local write.

Used by the registry's discover and the authority's plan list. Imports nothing heavy.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Callable

__all__ = ["MAX_PAGES", "PageCache", "TTL_S"]

#: how long a page is served from memory (another replica's writes show within this)
TTL_S = 1.0
#: pages kept at most (least recently used dropped first)
MAX_PAGES = 1024


class PageCache:
    """``get_or_read(key, generation, read)``: a kept answer, or ``read()``'s, kept when
    ``generation()`` (the database's count of committed local writes) did not move meanwhile."""

    def __init__(self, ttl: float = TTL_S, size: int = MAX_PAGES, clock: Callable[[], float] = time.time):
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._lock = threading.Lock()
        self._pages: OrderedDict[Any, tuple[float, int, Any]] = OrderedDict()

    def get_or_read(self, key: Any, generation: Callable[[], int], read: Callable[[], Any]) -> Any:
        now = self.clock()
        gen = generation()
        with self._lock:
            kept = self._pages.get(key)
            if kept is not None and kept[1] == gen and 0 <= now - kept[0] < self.ttl:
                self._pages.move_to_end(key)
                return kept[2]
        value = read()
        with self._lock:
            if generation() == gen:
                self._pages[key] = (now, gen, value)
                self._pages.move_to_end(key)
                while len(self._pages) > self.size:
                    self._pages.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
