"""Rules for values a registry accepts, checked by our client before sending and by the server
(``server/protect.py``) again: one definition. Each ``check_*`` returns the reason a value is
refused, or None.

Every rule stands on :mod:`aster_core.text`: a pattern matches the **whole** value
(:func:`~aster_core.text.whole_match`; with ``re.match`` and ``$``, ``"alice\\n"`` passed and was
verified, published and listed as two lines) and no value holds a control character.
"""

from __future__ import annotations

import re

from aster_core.text import control_in, whole_match

HANDLE_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{1,37}[a-z0-9])")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
SERVICE_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
RATE_LIMIT_RE = re.compile(r"[1-9][0-9]{0,5}/[1-9][0-9]{0,4}[mh]")
NODE_ID_RE = re.compile(r"[0-9a-f]{64}")
ROLE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
#: names no one may claim (the documented set, plus names that would mislead readers)
RESERVED = frozenset("""
admin administrator api aster help root support www registry system staff security
official null undefined anonymous everyone nobody owner mod moderator billing status
""".split())
RESERVED_PREFIXES = ("aster-", "admin-")
STATUSES = ("experimental", "stable", "deprecated")
VISIBILITIES = ("public", "private")
DESCRIPTION_MAX = 280
EMAIL_MAX = 254
TOKEN_TTL_RANGE = (60, 86400)


def _controls(value: str, what: str) -> str | None:
    bad = control_in(value)
    return f"{what} cannot hold control characters (it holds {bad})" if bad else None


def check_handle(handle: str) -> str | None:
    if not isinstance(handle, str) or not handle:
        return "a handle is required"
    if handle != handle.lower():
        return "a handle must be lowercase"
    if not 3 <= len(handle) <= 39:
        return "a handle has 3 to 39 characters"
    problem = _controls(handle, "a handle")
    if problem:
        return problem
    if handle.isdigit():
        return "a handle cannot be only digits"
    if "--" in handle:
        return "a handle cannot contain two hyphens in a row"
    if handle.startswith(RESERVED_PREFIXES) or handle in RESERVED:
        return "that handle is reserved"
    if not whole_match(HANDLE_RE, handle):
        return "a handle uses a-z, 0-9 and single hyphens, and starts and ends with a letter or digit"
    return None


def check_email(email: str) -> str | None:
    if not isinstance(email, str) or not email or len(email) > EMAIL_MAX:
        return "not an email address"
    return _controls(email, "an email address") or (None if whole_match(EMAIL_RE, email) else "not an email address")


def check_service_name(name: str) -> str | None:
    if whole_match(SERVICE_RE, name):
        return None
    if isinstance(name, str) and len(name) <= 128 and control_in(name):
        return _controls(name, "a service name")
    return "a service name is an identifier (letters, digits, _; at most 128)"


def check_rate_limit(value: str) -> str | None:
    return None if whole_match(RATE_LIMIT_RE, value) else "a rate limit is COUNT/PERIOD with m or h, e.g. 5/1h"


def check_role(role: str) -> str | None:
    return None if whole_match(ROLE_RE, role) else "a role is 1-64 letters, digits, and _ . : -"


def check_node_id(value: str) -> str | None:
    """A 64-hex endpoint id (lowercase; callers lower it first where case does not matter)."""
    return None if whole_match(NODE_ID_RE, value) else "an endpoint id is 64 hex characters"


def check_token_ttl(seconds: int) -> str | None:
    low, high = TOKEN_TTL_RANGE
    return None if low <= seconds <= high else f"a token lifetime is {low}s to {high}s (1m to 24h)"


def split_service_ref(text: str) -> tuple[str, str] | None:
    """``@handle/Service`` -> (handle, service), or None when ``text`` is not one."""
    if not isinstance(text, str) or not text.startswith("@") or "/" not in text or control_in(text):
        return None
    handle, _, service = text[1:].partition("/")
    if check_handle(handle) is not None and not whole_match(HANDLE_RE, handle):
        return None
    return (handle, service) if service else None
