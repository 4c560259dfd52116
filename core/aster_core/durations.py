"""The one parser for expiries and durations: ``30d``, ``24h``, ``90m``, ``45s``, ISO 8601.

An ISO time without a zone is read as UTC, everywhere (the released CLI read it
as local time in one command and UTC in another). Every expiry lies between now
and the end of year 9999 UTC; anything past that (``99999999999d``) is bad
input, never an overflow.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from .errors import UsageError

#: matched whole (``fullmatch``); the whitespace around it is allowed on purpose
_RELATIVE = re.compile(r"\s*(\d+)\s*([smhdw])\s*", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_HINT = "use a duration like 30d, 24h, 90m, 45s or an ISO 8601 time such as 2027-01-31T12:00:00Z"
#: The last second a datetime (and so an expiry we sign) can hold: 9999-12-31T23:59:59Z.
MAX_EPOCH = 253402300799
_TOO_LATE = "the latest expiry is 9999-12-31T23:59:59Z; give a shorter duration such as 30d"


def parse_duration(text: str) -> timedelta:
    """Parse a relative duration (``30d``, ``24h``, ``90m``, ``45s``, ``2w``)."""
    match = _RELATIVE.fullmatch(text or "") if len(text or "") <= 64 else None
    if not match:
        raise UsageError(f"invalid duration {_shown(text)}", _HINT)
    digits, unit = match.group(1).lstrip("0") or "0", match.group(2).lower()
    if len(digits) > 15:  # more seconds than fit before year 9999, whatever the unit
        raise UsageError(f"duration {_shown(text)} is too long", _TOO_LATE)
    seconds = int(digits) * _UNIT_SECONDS[unit]
    if seconds <= 0:
        raise UsageError(f"duration {_shown(text)} must be positive", _HINT)
    if seconds > MAX_EPOCH:
        raise UsageError(f"duration {_shown(text)} is too long", _TOO_LATE)
    return timedelta(seconds=seconds)


def _shown(text: str | None) -> str:
    """``text`` for an error message, cut when it is absurdly long."""
    text = text if isinstance(text, str) else str(text)
    return repr(text if len(text) <= 40 else text[:40] + "...")


def parse_expiry(text: str, *, now: datetime | None = None, allow_past: bool = False) -> datetime:
    """Turn a relative duration or an ISO 8601 time into an aware UTC datetime.

    Raises :class:`UsageError` for unparseable text, for a time past the end of
    year 9999 and, unless ``allow_past``, for a time that is not in the future.
    """
    now = now or datetime.now(timezone.utc)
    if _RELATIVE.fullmatch(text or ""):
        delta = parse_duration(text)
        if now.timestamp() + delta.total_seconds() > MAX_EPOCH:
            raise UsageError(f"expiry {_shown(text)} is too far in the future", _TOO_LATE)
        return now + delta
    if not isinstance(text, str) or len(text) > 64:
        raise UsageError(f"invalid expiry {_shown(text)}", _HINT)
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # OverflowError: 9999-12-31T23:00-05:00 is past 9999 in UTC
        raise UsageError(f"invalid expiry {_shown(text)}", _HINT) from None
    if not allow_past and value <= now:
        raise UsageError(f"expiry {_shown(text)} is in the past", "give a future time or a duration such as 30d")
    return value


def to_epoch(value: datetime) -> int:
    """Whole epoch seconds of an aware datetime."""
    return int(value.timestamp())


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """(year, month, day) of the proleptic Gregorian calendar ``days`` after 1970-01-01,
    for any year (H. Hinnant's days-to-civil arithmetic)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, day


def iso_utc(epoch_or_dt: int | float | datetime) -> str:
    """``2027-01-31T12:00:00Z`` for an epoch number or an aware datetime.

    Any whole epoch is shown, also past year 9999 (as ISO 8601's expanded form,
    ``+584554051223-11-09T07:00:15Z`` for 2**64-1), so a credential from elsewhere
    with an absurd expiry is displayed, not a crash.
    """
    if isinstance(epoch_or_dt, datetime):
        return epoch_or_dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    seconds = int(epoch_or_dt)
    days, rest = divmod(seconds, 86400)
    year, month, day = _civil_from_days(days)
    hour, rest = divmod(rest, 3600)
    minute, second = divmod(rest, 60)
    if 0 <= year <= 9999:
        stamp = f"{year:04d}"
    else:
        stamp = f"{'+' if year > 0 else '-'}{abs(year):04d}"
    return f"{stamp}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}Z"
