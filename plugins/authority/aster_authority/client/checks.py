"""``aster doctor`` check: is the configured authority reachable, and are we its admin?"""

from __future__ import annotations

from aster_core.errors import AsterError
from aster_core.hookspecs import CheckResult


def check_authority() -> CheckResult:
    from .settings import admin_credential, setting

    address = setting("ASTER_AUTHORITY_ADDR", "address")
    if not address:
        return CheckResult("authority", "ok", "no authority configured (ASTER_AUTHORITY_ADDR or authority.address in config.toml)")
    from .nodes import status

    try:
        info = status(address, admin_credential(None))
    except AsterError as exc:
        return CheckResult("authority", "fail", exc.message, exc.hint)
    if not info["database"].get("reachable"):
        return CheckResult("authority", "fail", "the authority's database is unreachable",
                           "check the server's --db")
    if not info["admin"]:
        return CheckResult("authority", "warn", "reachable, but our credential does not hold authority.admin",
                           "set [authority] credential to an admin credential")
    return CheckResult("authority", "ok", f"reachable, admin as {info['caller'][:16]}...")
