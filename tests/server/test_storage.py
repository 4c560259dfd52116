"""aster_server.storage on a real SQLite file and a real PostgreSQL cluster (tests/support/postgres.py)."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from aster_core.errors import UsageError
from aster_server import storage

ALPHA = "tests.server.mig_alpha"
BETA = "tests.server.mig_beta"

meta = sa.MetaData()
accounts = sa.Table("alpha_accounts", meta,
                    sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("name", sa.String(64)),
                    sa.Column("balance", sa.Integer),
                    sa.Column("version", sa.Integer))
notes = sa.Table("alpha_notes", meta,
                 sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("account_id", sa.Integer),
                 sa.Column("text", sa.Text))


def test_urls(tmp_path):
    assert storage.normalize_url("postgresql://u:pw@h:5/db").drivername == "postgresql+psycopg"
    assert storage.normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert storage.normalize_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    rel = storage.normalize_url("x/reg.db")
    assert rel.drivername == "sqlite" and rel.database.startswith("/") and rel.database.endswith("x/reg.db")
    assert storage.normalize_url(f"sqlite:///{tmp_path}/a.db").database == f"{tmp_path}/a.db"
    assert storage.redact("postgresql://u:secret@h/db") == "postgresql://u:***@h/db"
    for bad in ("", "mysql://u@h/db", "postgresql+asyncpg://u@h/db", "sqlite+aiosqlite:///x"):
        with pytest.raises(UsageError):
            storage.normalize_url(bad)


def test_sqlite_pragmas(tmp_path):
    engine = storage.create_engine(tmp_path / "sub" / "a.db")
    try:
        with storage.transaction(engine, write=False) as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == storage.SQLITE_BUSY_TIMEOUT_MS
        assert (tmp_path / "sub" / "a.db").exists()
    finally:
        engine.dispose()


def test_migrations_shared_database(database_url):
    engine = storage.create_engine(database_url)
    try:
        alpha = storage.Migrations.of(ALPHA, "alembic_version_alpha")
        beta = storage.Migrations.of(BETA, "alembic_version_beta")
        assert storage.current_revision(engine, alpha) is None
        assert storage.upgrade(engine, alpha, "a0001") == "a0001"
        assert storage.upgrade(engine, alpha) == "a0002" == storage.head_revision(alpha)
        assert storage.upgrade(engine, alpha) == "a0002"  # nothing left to do
        assert storage.upgrade(engine, beta) == "b0001"
        names = set(sa.inspect(engine).get_table_names())
        assert {"alpha_accounts", "alpha_notes", "beta_items", "alembic_version_alpha",
                "alembic_version_beta"} <= names
        assert storage.current_revision(engine, alpha) == "a0002"
        # foreign keys are enforced on both dialects
        with pytest.raises(sa.exc.IntegrityError):
            with storage.transaction(engine) as conn:
                conn.execute(notes.insert().values(account_id=999, text="orphan"))
    finally:
        engine.dispose()


def test_default_version_table_names():
    assert storage.Migrations.of(ALPHA).version_table == "alembic_version_tests_server_mig_alpha"


def test_transaction_rolls_back_and_commits(database_url):
    engine = storage.open_database(database_url, storage.Migrations.of(ALPHA, "v_alpha"))
    try:
        with pytest.raises(RuntimeError):
            with storage.transaction(engine) as conn:
                conn.execute(accounts.insert().values(name="a", balance=1, version=1))
                raise RuntimeError("boom")
        with storage.transaction(engine, write=False) as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(accounts)).scalar() == 0
        with storage.transaction(engine) as conn:
            conn.execute(accounts.insert().values(name="a", balance=1, version=1))
        with storage.transaction(engine, write=False) as conn:
            assert conn.execute(sa.select(accounts.c.balance)).scalar() == 1
    finally:
        engine.dispose()


def test_concurrent_upgrades_take_turns(pg_url):
    """Two replicas migrating the same PostgreSQL at once: both succeed, the schema is made once."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def migrate() -> None:
        barrier.wait()
        try:
            storage.upgrade(pg_url, storage.Migrations.of(ALPHA, "v_alpha"))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=migrate) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    engine = storage.create_engine(pg_url)
    try:
        assert storage.current_revision(engine, storage.Migrations.of(ALPHA, "v_alpha")) == "a0002"
    finally:
        engine.dispose()


def test_unreachable_database_is_one_clean_error():
    with pytest.raises(storage.StorageError) as info:
        storage.open_database("postgresql://nobody:pw@127.0.0.1:9/none", storage.Migrations.of(ALPHA, "v"))
    assert "pw" not in info.value.message and "***" in info.value.message


def test_describe(database_url):
    engine = storage.create_engine(database_url)
    try:
        info = storage.describe(engine)
        assert info["reachable"] is True and info["dialect"] in ("sqlite", "postgresql")
    finally:
        engine.dispose()
