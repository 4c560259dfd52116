"""Ranked full-text ``discover`` on both dialects (migration r0003): what matches (substring of
every word, public only), the order (exact name, then relevance, then newest; ties newest
first), the index kept in step with every write, the bounded ranking window, and the upgrade
from r0002 with existing rows backfilled."""

from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa

from aster_registry.server import search, tables
from aster_registry.server import store as st
from aster_server import storage

from .support import Key, Registry, handle_row


@pytest.fixture
def reg(database_url):
    r = Registry(database_url)
    yield r
    r.store.engine.dispose()


def test_backend_is_the_index(reg):
    assert reg.store.search_backend == ("fts5" if reg.store.engine.dialect.name == "sqlite" else "pg_trgm+tsvector")


def test_what_matches_and_the_order(reg):
    reg.publish("alice", "Task", "plain jobs")
    reg.publish("alice", "TaskQueue", "a queue of jobs")
    reg.publish("bob", "BillingService", "invoices, and a task to bill them")
    reg.publish("bob", "Ledger", "money in and out")
    reg.publish("alice", "Secret", "task secrets")
    reg.signed("alice", "set_visibility", reg.store.publications.set_visibility, service_name="Secret", visibility="private")

    # exact name first, then the name match above the description-only match; private hidden
    assert reg.names("task") == ["Task", "TaskQueue", "BillingService"]
    assert reg.total("task") == 3
    assert reg.names("TASK") == reg.names("task")                       # case does not matter
    assert reg.names("queue") == ["TaskQueue"]                           # a substring inside a name
    assert sorted(reg.names("ask")) == ["BillingService", "Task", "TaskQueue"]  # no name is or starts with it
    assert reg.names("task bill") == ["BillingService"]                  # every word must match
    assert reg.names("qu") == ["TaskQueue"]                              # words under 3 characters too
    assert reg.names("task qu") == ["TaskQueue"]
    assert sorted(reg.names("bob")) == ["BillingService", "Ledger"]      # the handle is searched
    assert reg.names("secrets") == [] and reg.names("nothing-like-it") == []
    assert reg.names('a"b') == [] and reg.names("%") == [] and reg.names("_") == []  # quoting, LIKE wildcards
    # pages of a ranked result are slices of it; the empty query lists all public ones, newest first
    assert [reg.names("task", 1, i) for i in range(4)] == [["Task"], ["TaskQueue"], ["BillingService"], []]
    assert reg.names("") == ["Ledger", "BillingService", "TaskQueue", "Task"]
    assert reg.names("@alice") == ["Secret", "TaskQueue", "Task"]      # @handle: its own services, private too


def test_ties_are_newest_first(reg):
    reg.publish("bob", "Alpha1", "zeta")
    reg.publish("bob", "Alpha2", "zeta")
    reg.publish("bob", "Alpha3", "zeta")
    assert reg.names("zeta") == ["Alpha3", "Alpha2", "Alpha1"]
    assert reg.names("alpha") == ["Alpha3", "Alpha2", "Alpha1"]


def test_the_index_follows_every_write(reg):
    reg.publish("alice", "Weather", "forecasts")
    assert reg.names("forecast") == ["Weather"]
    reg.signed("alice", "update_service", reg.store.publications.update_service, service_name="Weather", description="rain maps")
    assert reg.names("forecast") == [] and reg.names("rain") == ["Weather"]
    reg.publish("alice", "Weather", "storm tracks")                     # re-publish replaces the description
    assert reg.names("rain") == [] and reg.names("storm") == ["Weather"]
    reg.signed("alice", "set_visibility", reg.store.publications.set_visibility, service_name="Weather", visibility="private")
    assert reg.names("storm") == []
    reg.signed("alice", "set_visibility", reg.store.publications.set_visibility, service_name="Weather", visibility="public")
    assert reg.names("storm") == ["Weather"]
    reg.signed("alice", "unpublish", reg.store.publications.unpublish, service_name="Weather")
    assert reg.names("storm") == [] and reg.total("weather") == 0


def test_ranking_window_keeps_exact_names_and_pages(reg, monkeypatch):
    monkeypatch.setattr(search, "RANK_WINDOW", 3)
    reg.publish("alice", "Echo", "the oldest, named exactly")
    for i in range(6):
        reg.publish("bob", f"Svc{i}", "echo " * (1 + i % 2) + "filler")
    everything = reg.names("echo")
    assert everything[0] == "Echo" and len(everything) == 7 == reg.total("echo")
    # the newest three (Svc5, Svc4, Svc3) are ranked (bm25 / ts_rank: the doubled word wins), then the rest newest
    assert sorted(everything[1:4]) == ["Svc3", "Svc4", "Svc5"] and everything[4:] == ["Svc2", "Svc1", "Svc0"]
    assert everything[1:4] == ["Svc5", "Svc3", "Svc4"]
    assert [n for off in range(0, 7, 2) for n in reg.names("echo", 2, off)] == everything


#: (handle, name, description): repeats in every column, overlapping hits ("aaa" in "aaaaa"),
#: non-ASCII text, and a description of over 127 trigrams (a two-byte size in FTS5's _docsize)
CORPUS = [
    ("alice", "Ana", "aaa aaaaa banana ananas"),
    ("alice", "Banana", "ban anagram, an ANA of Ana"),
    ("bob", "Nanana", "NANA nana " * 25 + "end"),
    ("bob", "Cafe", "Café CAFÉ café crème, ünïcode Ünïcode"),
    ("alice", "Anagram", "ana"),
    ("bob", "Zanzibar", "far away ana"),
    ("alice", "Anana", "ana ana ana"),
    ("bob", "Anaconda", "a snake, not a banana"),
]
WORDS = ["ana", "aaa", "nana", "banana", "café", "ünïcode", "an", "bob", "ice", "anagram"]


def _reference(conn: sa.engine.Connection, word: str) -> list[str]:
    """The order of the first release's all-SQL ranking: the exact name, then name prefix, then
    ``bm25(FTS, 10, 2, 1)`` / ``ts_rank``, then newest first (every match is in the window here)."""
    if conn.dialect.name == "sqlite":
        sql = (f"SELECT s.service_name FROM {search.FTS} f JOIN registry_services s ON s.id = f.rowid "
               f"WHERE {search.FTS} MATCH :phrase ORDER BY s.name_lower = :w DESC, s.name_lower LIKE :w || '%' "
               f"DESC, bm25({search.FTS}, 10.0, 2.0, 1.0), s.published_at DESC, s.id DESC")
        if len(word) < search.MIN_INDEXED:
            sql = (f"SELECT service_name FROM registry_services WHERE visibility = 'public' AND search_text LIKE "
                   f"'%' || :w || '%' ORDER BY name_lower = :w DESC, name_lower LIKE :w || '%' DESC, "
                   f"published_at DESC, id DESC")
    else:
        sql = ("SELECT service_name FROM registry_services WHERE visibility = 'public' AND search_text LIKE "
               "'%' || :w || '%' ORDER BY name_lower = :w DESC, name_lower LIKE :w || '%' DESC, "
               "ts_rank(search_vector, to_tsquery('simple', :w || ':*')) DESC, published_at DESC, id DESC")
    return list(conn.execute(sa.text(sql), {"w": word.lower(), "phrase": f'"{word}"'}).scalars())


def test_order_and_matches_equal_the_all_sql_ranking(reg):
    for handle, name, description in CORPUS:
        reg.publish(handle, name, description)
    with storage.transaction(reg.store.engine, write=False) as conn:  # a read: discover may write beside it
        for word in WORDS:
            expected = _reference(conn, word)
            assert expected, word
            assert reg.names(word) == expected, word
            assert reg.total(word) == len(expected)
            assert [n for off in range(0, len(expected), 3) for n in reg.names(word, 3, off)] == expected
    assert reg.names("ANA") == reg.names("ana") and reg.names("CAFÉ") == reg.names("café")
    assert reg.names("aaaa") == ["Ana"] and reg.names("anaa") == []


def test_the_empty_query_counts_public_services(reg):
    for handle, name, description in CORPUS[:4]:
        reg.publish(handle, name, description)
    assert reg.total("") == 4
    reg.signed("bob", "set_visibility", reg.store.publications.set_visibility, service_name="Cafe", visibility="private")
    reg.signed("alice", "unpublish", reg.store.publications.unpublish, service_name="Ana")
    assert reg.total("") == 2 == len(reg.names(""))
    reg.signed("bob", "set_visibility", reg.store.publications.set_visibility, service_name="Cafe", visibility="public")
    assert reg.total("") == 3 and reg.names("") == ["Cafe", "Nanana", "Banana"]


def test_upgrade_from_r0002_backfills_existing_rows(database_url):
    engine = storage.create_engine(database_url)
    try:
        assert storage.upgrade(engine, tables.MIGRATIONS, "r0002") == "r0002"
        now = int(time.time())
        key = Key()
        deleg = json.dumps({"authority": "consumer", "mode": "open", "token_ttl": 300, "rate_limit": None,
                            "roles": ["consumer"]})
        with storage.transaction(engine) as conn:
            conn.execute(tables.t_handles.insert().values(**handle_row("olga", key, now)))
            for i, (name, vis) in enumerate([("OldMaps", "public"), ("OldSecrets", "private"), ("Tiles", "public")]):
                description = f"{name} from before the index"
                conn.execute(tables.t_services.insert().values(
                    handle="olga", service_name=name, name_lower=name.lower(), version=1, contract_id="0" * 64,
                    manifest_json="{}", description=description, status="stable", visibility=vis,
                    delegation_json=deleg, method_count=1, token_id=f"t{i}", published_at=now + i, updated_at=now,
                    search_text=tables.search_text(name, description, "olga")))
        assert storage.upgrade(engine, tables.MIGRATIONS) == storage.head_revision(tables.MIGRATIONS) == "r0006"
        store = st.Store(engine)
        assert [e["service_name"] for e in store.directory.discover("old", 20, 0)[1]] == ["OldMaps"]
        assert [e["service_name"] for e in store.directory.discover("before index", 20, 0)[1]] == ["Tiles", "OldMaps"]
        assert store.directory.discover("oldsecrets", 20, 0)[0] == 0
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                vector = conn.execute(sa.text("SELECT search_vector::text FROM registry_services "
                                              "WHERE service_name = 'Tiles'")).scalar_one()
                assert "'tiles':1A" in vector and "'olga'" in vector
            else:
                indexed = conn.execute(sa.text(f"SELECT count(*) FROM {search.FTS} WHERE {search.FTS} MATCH "
                                               "'\"olga\"'")).scalar_one()
                assert indexed == 2  # the public rows only (a full scan would read the content table)
    finally:
        engine.dispose()
