"""Responses -> JSON an agent can read, and bounded collection of streams."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import enum
import math
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator


def to_jsonable(value: Any) -> Any:
    """Plain JSON data for a response value: bytes as base64, enums as values."""
    if value is None or isinstance(value, (bool, int, str)):
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(to_jsonable(k)): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    return str(value)


@dataclass
class Collected:
    """What a bounded stream collection produced, and why it stopped."""

    items: list[Any] = field(default_factory=list)
    stopped: str = "end"          # end | max_items | timeout

    def to_dict(self) -> dict[str, Any]:
        return {"items": self.items, "count": len(self.items), "complete": self.stopped == "end",
                "stopped": self.stopped}


async def collect(stream: AsyncIterator[Any], *, max_items: int, timeout: float) -> Collected:
    """Read ``stream`` until it ends, ``max_items`` arrive or ``timeout`` seconds pass.

    The stream is closed when collection stops early, so the peer sees the
    call cancelled rather than an abandoned reader. An error the stream raises
    propagates (with what was collected lost: the call failed).
    """
    out = Collected()
    deadline = time.monotonic() + timeout
    iterator = stream.__aiter__()
    try:
        while True:
            if len(out.items) >= max_items:
                out.stopped = "max_items"
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                out.stopped = "timeout"
                break
            try:
                item = await asyncio.wait_for(iterator.__anext__(), remaining)
            except StopAsyncIteration:
                break
            except asyncio.TimeoutError:
                out.stopped = "timeout"
                break
            out.items.append(to_jsonable(item))
    finally:
        if out.stopped != "end":
            await _close_quietly(iterator)
    return out


async def _close_quietly(iterator: Any) -> None:
    close = getattr(iterator, "aclose", None)
    if close is None:
        return
    try:
        await asyncio.wait_for(close(), 2)
    except Exception:  # noqa: BLE001 - best effort: the result is already decided
        pass
