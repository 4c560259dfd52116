"""Which authority to talk to and which credential to present, from the flags, the
environment or config.toml. Imports nothing heavy (``aster doctor`` reads it first).

Address: ``--authority ADDR`` > ``ASTER_AUTHORITY_ADDR`` > ``[authority] address``.
Admin credential: ``--rcan FILE`` > ``ASTER_AUTHORITY_CREDENTIAL`` > ``[authority] credential``.
Timeout of connecting and of each call: ``ASTER_AUTHORITY_TIMEOUT`` > ``[authority] timeout``
(a duration: ``30s``, ``2m``) > 20 s.
Longest lifetime reconcile and provisioning sign, whatever the authority asks:
``ASTER_AUTHORITY_MAX_CREDENTIAL_TTL`` > ``[authority] max_credential_ttl`` > 30 days.
"""

from __future__ import annotations

import os

from aster_core.errors import UsageError


def setting(env: str, key: str) -> str | None:
    """``env`` when set, else ``key`` of config.toml's ``[authority]`` table."""
    value = os.environ.get(env, "").strip()
    if value:
        return value
    from aster_core.profiles import read_config

    table = read_config().get("authority", {})
    value = table.get(key) if isinstance(table, dict) else None
    return str(value).strip() if isinstance(value, str) and value.strip() else None


def authority_address(explicit: str | None) -> str:
    address = (explicit or "").strip() or setting("ASTER_AUTHORITY_ADDR", "address")
    if not address:
        raise UsageError("no authority address given",
                         "run `aster authority login ADDR --rcan FILE` once (ADDR: the ticket `aster authority "
                         "serve` prints), or pass --authority ADDR, or set ASTER_AUTHORITY_ADDR")
    return address


def admin_credential(explicit: str | None) -> str | None:
    return (explicit or "").strip() or setting("ASTER_AUTHORITY_CREDENTIAL", "credential")


def call_timeout(default: float) -> float:
    """Seconds to wait for the authority (connecting, and each call): ``ASTER_AUTHORITY_TIMEOUT``
    or ``[authority] timeout`` as a duration, else ``default``."""
    value = setting("ASTER_AUTHORITY_TIMEOUT", "timeout")
    if value is None:
        return default
    from aster_core.durations import parse_duration

    try:
        return parse_duration(value).total_seconds()
    except UsageError as exc:
        raise UsageError(f"ASTER_AUTHORITY_TIMEOUT / [authority] timeout: {exc.message}",
                         "give a duration such as 30s or 2m") from None


#: the longest lifetime the CLI signs a credential for, whatever the authority asks
DEFAULT_MAX_CREDENTIAL_TTL = 30 * 86400


def check_max_credential_ttl(text: str) -> str:
    """What ``aster config set authority.max_credential_ttl`` accepts: a duration (``30d``, ``7d``)."""
    from aster_core.durations import parse_duration

    value = text.strip()
    parse_duration(value)
    return value


def max_credential_ttl() -> int:
    """Seconds: ``ASTER_AUTHORITY_MAX_CREDENTIAL_TTL`` or ``[authority] max_credential_ttl`` as a
    duration, else 30 days. Signing caps every expiry at now + this."""
    value = setting("ASTER_AUTHORITY_MAX_CREDENTIAL_TTL", "max_credential_ttl")
    if value is None:
        return DEFAULT_MAX_CREDENTIAL_TTL
    from aster_core.durations import parse_duration

    try:
        seconds = int(parse_duration(value).total_seconds())
    except UsageError as exc:
        raise UsageError(f"ASTER_AUTHORITY_MAX_CREDENTIAL_TTL / [authority] max_credential_ttl: {exc.message}",
                         "give a duration such as 30d or 7d") from None
    return seconds
