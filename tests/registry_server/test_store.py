"""The storage module with a controllable clock, on both dialects: code lifetimes, attempts,
resend limits, the one-hour window, nonce and endpoint expiry, and the reaper."""

from __future__ import annotations

import pytest

from aster_registry.server import profiles, protect, tables
from aster_server.request import Refused

from .support import Key, open_store, publish_fields, store_op


@pytest.fixture
def reg(database_url, clock):
    with open_store(database_url, clock) as s:
        yield s


def refused(status: str, fn, *args, **kw) -> str:
    with pytest.raises(Refused) as info:
        fn(*args, **kw)
    assert info.value.status.name == status, info.value
    return info.value.message


def test_codes_attempts_lifetimes_and_resends(reg):
    key = Key()
    _, mail = store_op(reg, key, "join", handle="carol", email="carol@example.org", announcements=False)
    assert mail.code.isdigit() and len(mail.code) == 6
    with reg.engine.connect() as conn:  # hashed at rest
        stored = conn.execute(tables.t_codes.select()).mappings().one()
    assert mail.code not in stored["code_hash"] and stored["code_hash"].startswith("$argon2id$")
    wrong = "000000" if mail.code != "000000" else "111111"
    for left in (4, 3, 2, 1, 0):
        assert f"{left} attempt" in refused("INVALID_ARGUMENT", store_op, reg, key, "verify", handle="carol", code=wrong)
    assert "too many" in refused("FAILED_PRECONDITION", store_op, reg, key, "verify", handle="carol", code=mail.code)
    # resend: a new code, attempts reset; cooldown and limit
    reg.test_clock.now += 61
    _, mail2 = store_op(reg, key, "resend_verification", handle="carol")
    assert "retry in" in refused("RESOURCE_EXHAUSTED", store_op, reg, key, "resend_verification", handle="carol")
    reg.test_clock.now += profiles.CODE_TTL_S + 1  # the code expires after 15 minutes
    assert "expired" in refused("FAILED_PRECONDITION", store_op, reg, key, "verify", handle="carol", code=mail2.code)
    # refused resends count against the hourly rate limit too, and the claim lives one hour: this
    # test is about the code's own limits, so the rate limit (tested in test_protocol) is lifted
    reg.limits.limits["resend_verification"] = (100, 3600)
    for _ in range(profiles.MAX_RESENDS - 1):
        reg.test_clock.now += 61
        _, latest = store_op(reg, key, "resend_verification", handle="carol")
    reg.test_clock.now += 61
    assert "at most" in refused("RESOURCE_EXHAUSTED", store_op, reg, key, "resend_verification", handle="carol")
    assert store_op(reg, key, "verify", handle="carol", code=latest.code)["status"] == "verified"


def test_verification_window_and_reaper(reg):
    key, other = Key(), Key()
    store_op(reg, key, "join", handle="dave", email="dave@example.org", announcements=False)
    assert reg.profiles.check_availability("dave") == (False, "taken")
    reg.test_clock.now += profiles.VERIFY_WINDOW_S + 1
    assert reg.profiles.check_availability("dave") == (True, "")  # an expired pending claim frees the handle
    store_op(reg, other, "join", handle="dave", email="dave2@example.org", announcements=False)  # someone else takes it
    assert store_op(reg, other, "handle_status")["status"] == "pending"
    refused("NOT_FOUND", store_op, reg, key, "handle_status")


def test_stale_endpoints_and_old_nonces_are_reaped(reg):
    key = Key()
    _, mail = store_op(reg, key, "join", handle="erin", email="erin@example.org", announcements=False)
    store_op(reg, key, "verify", handle="erin", code=mail.code)
    store_op(reg, key, "publish", **publish_fields("erin", endpoints=[{"node_id": "ab" * 32, "relay": "", "ttl": 60}]))
    assert reg.directory.discover("@erin", 20, 0)[1][0]["endpoint_count"] == 1
    reg.test_clock.now += 61
    assert reg.directory.discover("@erin", 20, 0)[1][0]["endpoint_count"] == 0  # stale: not counted even before reaping
    assert reg.counts()["endpoints"] == 1
    dropped = reg.reap()
    assert dropped["endpoints"] == 1 and reg.counts()["endpoints"] == 0
    reg.test_clock.now += protect.NONCE_WINDOW_S + protect.SKEW_S + 1
    assert reg.reap()["nonces"] == 3 and reg.counts()["nonces"] == 0
