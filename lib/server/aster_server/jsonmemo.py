"""JSON documents a server reads again and again, parsed once: :class:`ParsedJson`.

A listing that reads the same stored documents on every request (the authority's ``plan list``
reads every plan's manifests, changes and warnings to show their service names and counts)
spent most of its time in ``json.loads``. The text is the key, so a changed document is simply
another key; the parsed values are shared between requests and **must be treated as read-only**
by whoever uses them (copy before changing).
"""

from __future__ import annotations

import functools
import json
import threading
from collections import OrderedDict
from typing import Any

__all__ = ["KeptJson", "ParsedJson"]


class ParsedJson:
    """``loads(text)``: ``json.loads(text)``, kept for the ``size`` texts used last."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._kept: OrderedDict[str, Any] = OrderedDict()

    def loads(self, text: str) -> Any:
        with self._lock:
            if text in self._kept:
                self._kept.move_to_end(text)
                return self._kept[text]
        value = json.loads(text)
        with self._lock:
            self._kept[text] = value
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return value


class KeptJson(dict):
    """A document kept to answer many requests (a :class:`aster_server.pagecache.PageCache`
    answer): its JSON text (``json.dumps(self, ensure_ascii=False)``) is made once, on first
    use, and reused by every answer. Read-only, like every kept answer."""

    @functools.cached_property
    def text(self) -> str:
        return json.dumps(self, ensure_ascii=False)
