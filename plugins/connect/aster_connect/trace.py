"""What one call did on the wire, for ``aster call -v``: when it was sent, its first answer, its trailer.

:mod:`aster_connect.wire` fills a :class:`CallTrace` when the caller passes one; nothing is
recorded otherwise. Times are ``time.perf_counter()`` seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CallTrace"]


@dataclass
class CallTrace:
    #: when the call's header went out, and when its first frame came back
    sent_at: float | None = None
    first_frame_at: float | None = None
    requests: int = 0
    responses: int = 0
    #: the trailer as received: code, status name, message, details (key -> value); None when
    #: the call ended without one (a unary answer in a session, or a broken stream)
    trailer: dict[str, Any] | None = None
    #: metadata written in the call's header
    metadata: dict[str, str] = field(default_factory=dict)

    def sent(self) -> None:
        self.sent_at = time.perf_counter()

    def frame(self) -> None:
        if self.first_frame_at is None:
            self.first_frame_at = time.perf_counter()
