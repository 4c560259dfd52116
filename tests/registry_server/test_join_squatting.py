"""Email squatting, on SQLite and on PostgreSQL: a pending ``join`` no longer blocks its address.
Whoever else joins with that address gets a code mailed there too (the code is what proves the
address), the first claim verified takes it, and a pending claim expires after an hour."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from aster_registry.server import profiles, tables
from aster_server import storage
from aster_server.request import Refused
from tests.support.aio import run
from tests.support.registry import start_registry

from .support import Key, RegistryClient, expect_error, open_store, store_op
from .test_protocol import P

ALICE = "alice@example.org"


def test_a_pending_join_does_not_keep_the_address_from_its_owner(database_url, smtp, tmp_path):
    mallory, alice, third = Key(), Key(), Key()
    with start_registry(database_url, home=tmp_path / "home", smtp=smtp) as registry:
        async def body():
            async with RegistryClient(registry.address) as c:
                # mallory claims a handle with alice's address first
                first = await c.signed(P, "join", mallory, handle="mallory", email=ALICE, announcements=False)
                assert first.email_delivery_status == "sent"
                mallory_code = smtp.code_for(ALICE)
                # alice still gets her own code (this was ALREADY_EXISTS for 24 h)
                mine = await c.signed(P, "join", alice, handle="alice", email=ALICE, announcements=False)
                assert mine.status == "pending_verification" and mine.email_delivery_status == "sent"
                alice_code = smtp.code_for(ALICE, after=1)
                assert (await c.signed(P, "verify", alice, handle="alice", code=alice_code)).status == "verified"
                # the first verified claim took the address: mallory's claim is over, even with the right code
                await expect_error(c.signed(P, "verify", mallory, handle="mallory", code=mallory_code),
                                   "ALREADY_EXISTS", "verified for another handle first")
                await expect_error(c.signed(P, "handle_status", mallory), "NOT_FOUND")
                from aster_registry import wire as w

                assert (await c.call(P, "check_availability", w.CheckAvailabilityRequest(handle="mallory"))).available
                # a verified address is taken, for everyone else
                await expect_error(c.signed(P, "join", third, handle="third", email=ALICE, announcements=False),
                                   "ALREADY_EXISTS", "email")
                assert smtp.count(ALICE) == 2

        run(body(), timeout=120)
    assert "Traceback" not in registry.log()


@pytest.fixture
def reg(database_url, clock):
    with open_store(database_url, clock) as s:
        yield s


def _refused(status: str, fn, *args, **kw) -> str:
    with pytest.raises(Refused) as info:
        fn(*args, **kw)
    assert info.value.status.name == status, info.value
    return info.value.message


def test_pending_claims_expire_in_an_hour(reg):
    assert profiles.VERIFY_WINDOW_S == 3600
    early, late = Key(), Key()
    _, mail = store_op(reg, early, "join", handle="early", email="early@example.org", announcements=False)
    reg.test_clock.advance(profiles.CODE_TTL_S - 1)
    assert store_op(reg, early, "verify", handle="early", code=mail.code)["status"] == "verified"
    _, mail = store_op(reg, late, "join", handle="late", email="late@example.org", announcements=False)
    assert reg.profiles.check_availability("late") == (False, "taken")
    reg.test_clock.advance(3600 + 1)
    assert "hour" in _refused("FAILED_PRECONDITION", store_op, reg, late, "verify", handle="late", code=mail.code)
    assert reg.profiles.check_availability("late") == (True, "")
    assert reg.reap()["pending_handles"] == 1


def test_every_claimant_gets_a_code_and_the_first_verified_wins(reg):
    keys = [Key() for _ in range(3)]
    mails = [store_op(reg, k, "join", handle=f"claim{i}", email=ALICE, announcements=False)[1]
             for i, k in enumerate(keys)]
    assert [m.to for m in mails] == [ALICE] * 3  # each claimant got a code, mailed to the address
    assert store_op(reg, keys[1], "verify", handle="claim1", code=mails[1].code)["status"] == "verified"
    for i in (0, 2):
        _refused("ALREADY_EXISTS", store_op, reg, keys[i], "verify", handle=f"claim{i}", code=mails[i].code)
    with reg.engine.connect() as conn:
        rows = conn.execute(sa.select(tables.t_handles.c.handle, tables.t_handles.c.status)).all()
    assert rows == [("claim1", "verified")]


def test_two_verifications_racing_for_one_address_leave_one_verified(reg):
    """On PostgreSQL two replicas may verify at the same instant: the unique index on verified
    addresses lets one commit; the other is refused (ABORTED, or ALREADY_EXISTS once it sees it)."""
    for round_ in range(4):
        keys, email = [Key(), Key()], f"race{round_}@example.org"
        mails = [store_op(reg, k, "join", handle=f"race{round_}x{i}", email=email, announcements=False)[1]
                 for i, k in enumerate(keys)]
        barrier, outcomes = threading.Barrier(2), []

        def verify(i: int) -> None:
            barrier.wait()
            try:
                outcomes.append(store_op(reg, keys[i], "verify", handle=f"race{round_}x{i}", code=mails[i].code)["status"])
            except Refused as exc:
                outcomes.append(exc.status.name)

        threads = [threading.Thread(target=verify, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(outcomes) in (["ABORTED", "verified"], ["ALREADY_EXISTS", "verified"]), outcomes
        with reg.engine.connect() as conn:
            verified = conn.execute(sa.select(sa.func.count()).select_from(tables.t_handles).where(
                tables.t_handles.c.email_hash == tables.email_hash(email),
                tables.t_handles.c.status == "verified")).scalar_one()
        assert verified == 1


def test_the_database_keeps_one_verified_handle_per_address(reg):
    for i, key in enumerate((Key(), Key())):
        store_op(reg, key, "join", handle=f"dup{i}", email=ALICE, announcements=False)
    t = tables.t_handles
    with storage.transaction(reg.engine) as conn:
        conn.execute(t.update().where(t.c.handle == "dup0").values(status="verified"))
    with pytest.raises(sa.exc.IntegrityError):
        with storage.transaction(reg.engine) as conn:
            conn.execute(t.update().where(t.c.handle == "dup1").values(status="verified"))
