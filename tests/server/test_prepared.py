"""aster_server.prepared.PreparedRead on a real SQLite file and a real PostgreSQL database: the
same rows as SQLAlchemy reads, what another connection committed seen at once, driver errors
raised as SQLAlchemy's, nothing left open."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from aster_server import storage
from aster_server.prepared import PreparedRead

meta = sa.MetaData()
people = sa.Table("prep_people", meta, sa.Column("id", sa.String(64), primary_key=True),
                  sa.Column("name", sa.Text), sa.Column("seen", sa.BigInteger), sa.Column("team", sa.Text))
missing = sa.Table("prep_missing", sa.MetaData(), sa.Column("id", sa.String(64), primary_key=True))

BY_ID = PreparedRead(sa.select(people.c.name, people.c.seen).where(people.c.id == sa.bindparam("id")))
# two parameters in the reverse order of the keyword arguments given
BY_TEAM_AND_MIN = PreparedRead(sa.select(people.c.id).where(people.c.seen >= sa.bindparam("least"),
                                                           people.c.team == sa.bindparam("team"))
                               .order_by(people.c.id))


@pytest.fixture
def engine(database_url):
    eng = storage.create_engine(database_url)
    meta.create_all(eng)
    yield eng
    eng.dispose()


def test_reads_what_sqlalchemy_reads_and_sees_commits_at_once(engine):
    with storage.transaction(engine) as conn:
        conn.execute(people.insert(), [{"id": "a", "name": "Ada", "seen": 10, "team": "x"},
                                       {"id": "b", "name": None, "seen": 20, "team": "x"}])
    assert BY_ID.first(engine, id="a") == ("Ada", 10)
    assert BY_ID.first(engine, id="b") == (None, 20)
    assert BY_ID.first(engine, id="nobody") is None
    assert BY_TEAM_AND_MIN.first(engine, team="x", least=15) == ("b",)
    with storage.transaction(engine) as conn:  # another connection's commit: the next read has it
        conn.execute(people.update().where(people.c.id == "a").values(seen=30))
    assert BY_ID.first(engine, id="a") == ("Ada", 30)
    # no transaction left open by the reads: a write takes the lock at once, and reads go on
    for _ in range(20):
        BY_ID.first(engine, id="a")
    with storage.transaction(engine) as conn:
        conn.execute(people.delete().where(people.c.id == "b"))
    assert BY_ID.first(engine, id="b") is None
    assert engine.pool.checkedout() == 0


def test_driver_errors_are_raised_as_sqlalchemy_raises_them(engine):
    bad = PreparedRead(sa.select(missing.c.id).where(missing.c.id == sa.bindparam("id")))
    with pytest.raises(sa.exc.DBAPIError) as info:
        bad.first(engine, id="a")
    assert isinstance(info.value.orig, engine.dialect.loaded_dbapi.Error)
    assert "prep_missing" in str(info.value)
    assert not storage.is_transient(info.value)
    assert engine.pool.checkedout() == 0
    assert BY_ID.first(engine, id="nobody") is None  # the pool still serves
