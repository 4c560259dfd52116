"""The one parser for expiries and durations: ``30d``, ``24h``, ``90m``, ``45s``, ISO 8601.

An ISO time without a zone is read as UTC, everywhere (the released CLI read it
as local time in one command and UTC in another).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from .errors import UsageError

_RELATIVE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_HINT = "use a duration like 30d, 24h, 90m, 45s or an ISO 8601 time such as 2027-01-31T12:00:00Z"


def parse_duration(text: str) -> timedelta:
    """Parse a relative duration (``30d``, ``24h``, ``90m``, ``45s``, ``2w``)."""
    match = _RELATIVE.match(text or "")
    if not match:
        raise UsageError(f"invalid duration {text!r}", _HINT)
    amount, unit = int(match.group(1)), match.group(2).lower()
    if amount <= 0:
        raise UsageError(f"duration {text!r} must be positive", _HINT)
    return timedelta(seconds=amount * _UNIT_SECONDS[unit])


def parse_expiry(text: str, *, now: datetime | None = None, allow_past: bool = False) -> datetime:
    """Turn a relative duration or an ISO 8601 time into an aware UTC datetime.

    Raises :class:`UsageError` for unparseable text and, unless ``allow_past``,
    for a time that is not in the future.
    """
    now = now or datetime.now(timezone.utc)
    if _RELATIVE.match(text or ""):
        return now + parse_duration(text)
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, AttributeError):
        raise UsageError(f"invalid expiry {text!r}", _HINT) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    if not allow_past and value <= now:
        raise UsageError(f"expiry {text!r} is in the past", "give a future time or a duration such as 30d")
    return value


def to_epoch(value: datetime) -> int:
    """Whole epoch seconds of an aware datetime."""
    return int(value.timestamp())


def iso_utc(epoch_or_dt: int | float | datetime) -> str:
    """``2027-01-31T12:00:00Z`` for an epoch number or an aware datetime."""
    if not isinstance(epoch_or_dt, datetime):
        epoch_or_dt = datetime.fromtimestamp(epoch_or_dt, timezone.utc)
    return epoch_or_dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
