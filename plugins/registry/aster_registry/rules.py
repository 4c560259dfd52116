"""Rules for values a registry accepts, checked by our client before sending and fit for the
server to enforce too (registry.md §4.1, §4.3, §4.6, §4.7). Each check returns the reason a
value is refused, or None.
"""

from __future__ import annotations

import re

HANDLE_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,37}[a-z0-9])$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SERVICE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
RATE_LIMIT_RE = re.compile(r"^[1-9][0-9]{0,5}/[1-9][0-9]{0,4}[mh]$")
NODE_ID_RE = re.compile(r"^[0-9a-f]{64}$")
#: names no one may claim (the documented set, plus names that would mislead readers)
RESERVED = frozenset("""
admin administrator api aster help root support www registry system staff security
official null undefined anonymous everyone nobody owner mod moderator billing status
""".split())
RESERVED_PREFIXES = ("aster-", "admin-")
STATUSES = ("experimental", "stable", "deprecated")
VISIBILITIES = ("public", "private")
DESCRIPTION_MAX = 280
TOKEN_TTL_RANGE = (60, 86400)


def check_handle(handle: str) -> str | None:
    if not handle:
        return "a handle is required"
    if handle != handle.lower():
        return "a handle must be lowercase"
    if not 3 <= len(handle) <= 39:
        return "a handle has 3 to 39 characters"
    if handle.isdigit():
        return "a handle cannot be only digits"
    if "--" in handle:
        return "a handle cannot contain two hyphens in a row"
    if handle.startswith(RESERVED_PREFIXES) or handle in RESERVED:
        return "that handle is reserved"
    if not HANDLE_RE.match(handle):
        return "a handle uses a-z, 0-9 and single hyphens, and starts and ends with a letter or digit"
    return None


def check_email(email: str) -> str | None:
    if not email or len(email) > 254 or not EMAIL_RE.match(email):
        return "not an email address"
    return None


def check_service_name(name: str) -> str | None:
    return None if SERVICE_RE.match(name or "") else "a service name is an identifier (letters, digits, _)"


def check_rate_limit(value: str) -> str | None:
    return None if RATE_LIMIT_RE.match(value or "") else "a rate limit is COUNT/PERIOD with m or h, e.g. 5/1h"


def check_token_ttl(seconds: int) -> str | None:
    low, high = TOKEN_TTL_RANGE
    return None if low <= seconds <= high else f"a token lifetime is {low}s to {high}s (1m to 24h)"


def split_service_ref(text: str) -> tuple[str, str] | None:
    """``@handle/Service`` -> (handle, service), or None when ``text`` is not one."""
    if not text.startswith("@") or "/" not in text:
        return None
    handle, _, service = text[1:].partition("/")
    if check_handle(handle) is not None and not HANDLE_RE.match(handle):
        return None
    return (handle, service) if service else None
