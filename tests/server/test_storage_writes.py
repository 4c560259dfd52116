"""storage.insert_ignore, storage.upsert and storage.lock on a real SQLite file and a real
PostgreSQL database: one statement each for the writes, and the row lock under two racing
writers (neither loses an update; the second waits and reads what the first wrote)."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from aster_server import storage

from .test_storage import ALPHA, accounts

MIGRATED = storage.Migrations.of(ALPHA, "v_alpha")


@pytest.fixture
def engine(database_url):
    engine = storage.open_database(database_url, MIGRATED)
    yield engine
    engine.dispose()


def _balance(engine, name: str = "a") -> int:
    with storage.transaction(engine, write=False) as conn:
        return conn.execute(sa.select(accounts.c.balance).where(accounts.c.name == name)).scalar_one()


def test_insert_ignore_and_upsert(engine):
    with storage.transaction(engine) as conn:
        assert storage.insert_ignore(conn, accounts, {"id": 1, "name": "a", "balance": 5, "version": 1}, ["id"])
        assert not storage.insert_ignore(conn, accounts, {"id": 1, "name": "b", "balance": 9, "version": 1}, ["id"])
        assert not storage.insert_ignore(conn, accounts, {"id": 1, "name": "c", "balance": 9, "version": 1})
        storage.upsert(conn, accounts, {"id": 2, "name": "b", "balance": 1, "version": 1}, ["id"])  # inserted
        storage.upsert(conn, accounts, {"id": 2, "name": "b2", "balance": 2, "version": 1}, ["id"])  # replaced
        storage.upsert(conn, accounts, {"id": 1, "name": "ignored", "balance": 1, "version": 1}, ["id"],
                       {"balance": accounts.c.balance + 10})  # an expression over the existing row
        storage.upsert(conn, accounts, {"id": 3, "name": "c"}, ["id"], {})  # nothing to set: insert,
        storage.upsert(conn, accounts, {"id": 3, "name": "other"}, ["id"], {})  # or leave alone
    with storage.transaction(engine, write=False) as conn:
        rows = conn.execute(sa.select(accounts.c.id, accounts.c.name, accounts.c.balance)
                            .order_by(accounts.c.id)).all()
    assert [tuple(r) for r in rows] == [(1, "a", 15), (2, "b2", 2), (3, "c", 0)]


def test_upsert_counts_every_one_of_racing_writers(engine):
    """Eight threads increment one counter through upsert at once: every increment lands."""
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def bump() -> None:
        barrier.wait()
        try:
            for _ in range(10):
                with storage.transaction(engine) as conn:
                    storage.upsert(conn, accounts, {"id": 7, "name": "a", "balance": 1, "version": 1}, ["id"],
                                   {"balance": accounts.c.balance + 1})
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and _balance(engine) == 80


def test_lock_makes_read_modify_write_safe_under_racing_writers(engine):
    """Eight threads each add 1 ten times by reading the balance and writing it back: with the
    row locked between the read and the write, none of the 80 updates is lost."""
    with storage.transaction(engine) as conn:
        conn.execute(accounts.insert().values(id=1, name="a", balance=0, version=1))
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def add() -> None:
        barrier.wait()
        try:
            for _ in range(10):
                with storage.transaction(engine) as conn:
                    row = storage.lock(conn, accounts, {"name": "a"})
                    time.sleep(0.001)  # widen the window a lost update would need
                    conn.execute(accounts.update().where(accounts.c.id == row["id"])
                                 .values(balance=row["balance"] + 1))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=add) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == [] and _balance(engine) == 80


def test_lock_holds_the_row_until_the_transaction_ends(engine):
    """The second writer's lock returns only after the first commits, with the first's value."""
    with storage.transaction(engine) as conn:
        conn.execute(accounts.insert().values(id=1, name="a", balance=1, version=1))
    first_has_lock, release = threading.Event(), threading.Event()
    seen: list[tuple[str, float, int]] = []

    def first() -> None:
        with storage.transaction(engine) as conn:
            row = storage.lock(conn, accounts, accounts.c.name == "a")  # a clause works as well as a mapping
            first_has_lock.set()
            release.wait(10)
            conn.execute(accounts.update().where(accounts.c.id == 1).values(balance=row["balance"] + 1))
            seen.append(("first commits", time.monotonic(), row["balance"]))

    def second() -> None:
        first_has_lock.wait(10)
        with storage.transaction(engine) as conn:
            row = storage.lock(conn, accounts, {"id": 1})
            seen.append(("second locked", time.monotonic(), row["balance"]))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    assert first_has_lock.wait(10)
    time.sleep(0.5)  # the second writer is waiting on the lock by now
    assert seen == []
    release.set()
    for t in threads:
        t.join(30)
    assert [(what, value) for what, _, value in seen] == [("first commits", 1), ("second locked", 2)]


def test_lock_of_a_missing_row_and_in_a_read_transaction(engine):
    with storage.transaction(engine) as conn:
        assert storage.lock(conn, accounts, {"name": "nobody"}) is None
    with pytest.raises(RuntimeError):
        with storage.transaction(engine, write=False) as conn:
            storage.lock(conn, accounts, {"name": "a"})
