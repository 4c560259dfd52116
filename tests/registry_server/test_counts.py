"""Kept match counts (server/counts.py, migration r0006) on both dialects: a large count is
kept, every write through the store keeps it exact (checked against a fresh count after each of
a few hundred random writes, non-ASCII text included), a write the store never saw makes the
kept counts unused until the next store write drops them, a count read before a change is
never kept, and the oldest go first."""

from __future__ import annotations

import random
import threading

import pytest
import sqlalchemy as sa

from aster_registry.server import counts, search, tables
from aster_server.request import Refused
from aster_server import storage

from .support import Key, Registry, handle_row

HANDLES = ("alice", "bob", "carol")
WORDS = ["task", "queue", "ask", "bill", "straße", "ÅNGSTRÖM", "istanbul", "İstanbul", "qu", "a", "jobs", "kelvin"]
#: service names are identifiers (ASCII); the descriptions carry the rest
NAMES = [w.capitalize() for w in WORDS if w.isascii() and len(w) > 2]
#: queries: single long words, several words, words under 3 characters, a miss, non-ASCII
QUERIES = ["task", "ask", "queue task", "qu", "task qu", "a", "straße", "ångström", "istanbul", "i̇stanbul",
           "alice", "jobs bill", "nothing-matches", "kelvin"]


@pytest.fixture
def reg(database_url, monkeypatch):
    monkeypatch.setattr(counts, "KEEP_AFTER", 0.0)  # keep every count
    r = Registry(database_url, HANDLES)
    yield r
    r.store.engine.dispose()


def kept(reg: Registry) -> dict[str, int]:
    with storage.transaction(reg.store.engine, write=False) as conn:
        return dict(conn.execute(sa.select(tables.t_match_counts.c.query, tables.t_match_counts.c.total)).all())


def fresh(reg: Registry, query: str) -> int:
    """The query's count as the index finds it now (no kept count involved)."""
    with storage.transaction(reg.store.engine, write=False) as conn:
        return search.WordSearch(conn, tables.t_services, query, reg.store.search_backend).count()


def state(reg: Registry) -> tuple[int, int]:
    with storage.transaction(reg.store.engine, write=False) as conn:
        return tuple(conn.execute(sa.select(tables.t_search_state.c.changes, tables.t_search_state.c.applied)).one())


def set_visibility(reg: Registry, handle: str, name: str, visibility: str) -> None:
    reg.signed(handle, "set_visibility", reg.store.publications.set_visibility, service_name=name,
               visibility=visibility)


def test_a_large_count_is_kept_and_answered(reg):
    for n in range(3):
        reg.publish("alice", f"Task{n}", "jobs")
    assert kept(reg) == {}
    assert reg.total("task") == 3
    assert kept(reg) == {"task": 3}
    with storage.transaction(reg.store.engine) as conn:  # what discover answers is the kept number
        conn.execute(tables.t_match_counts.update().values(total=2))
    assert reg.total("task") == 2
    assert reg.total("TASK  task") == 2  # the same words: one key
    assert reg.total("nothing-matches") == 0 and kept(reg)["nothing-matches"] == 0  # none is a count too


def test_every_store_write_keeps_the_counts_exact(reg):
    rnd = random.Random(20261207)
    live: dict[tuple[str, str], tuple[str, str]] = {}  # (handle, name) -> (visibility, description)
    for q in QUERIES:
        reg.total(q)
    changes_before = state(reg)[0]
    changed = 0  # rows inserted, deleted, or with a searched column changed: each counted once

    def description() -> str:
        return " ".join(rnd.sample(WORDS, rnd.randrange(1, 4)))

    for step in range(240):
        op = rnd.random()
        if not live or op < 0.45:
            handle, name, text = rnd.choice(HANDLES), f"{rnd.choice(NAMES)}{rnd.randrange(12)}", description()
            reg.publish(handle, name, text)
            old = live.get((handle, name))
            changed += old is None or old[1] != text
            live[(handle, name)] = (old[0] if old else "public", text)
        else:
            (handle, name), (visibility, text) = rnd.choice(sorted(live.items()))
            if op < 0.65:
                flipped = "private" if visibility == "public" else "public"
                set_visibility(reg, handle, name, flipped)
                live[(handle, name)] = (flipped, text)
                changed += 1
            elif op < 0.85:
                new_text = description()
                reg.signed(handle, "update_service", reg.store.publications.update_service, service_name=name,
                           description=new_text)
                live[(handle, name)] = (visibility, new_text)
                changed += new_text != text
            elif op < 0.92:
                reg.signed(handle, "update_service", reg.store.publications.update_service, service_name=name,
                           status="deprecated")  # no searched column: nothing to apply
            else:
                reg.signed(handle, "unpublish", reg.store.publications.unpublish, service_name=name)
                del live[(handle, name)]
                changed += 1
        if step % 20 == 0:
            for q in QUERIES:
                reg.total(q)
            # the empty query: every public service (kept too where the index cannot count them)
            assert reg.total("") == sum(v == "public" for v, _ in live.values())
        held = kept(reg)
        assert held == {q: fresh(reg, q) for q in held}, f"after step {step}"
        assert state(reg) == (changes_before + changed,) * 2, f"after step {step}"
    held = kept(reg)
    keys = {counts.key(q.lower().split()) for q in QUERIES} | ({""} if reg.store.search_backend != "fts5" else set())
    assert sorted(held) == sorted(keys)
    for q in QUERIES:
        assert reg.total(q) == fresh(reg, q)


def test_a_write_the_store_never_saw_disables_them_until_the_next_store_write(reg):
    for n in range(3):
        reg.publish("alice", f"Task{n}", "jobs")
    assert reg.total("task") == 3 and kept(reg) == {"task": 3}
    with storage.transaction(reg.store.engine) as conn:  # an operator's SQL, or an older replica
        conn.execute(tables.t_services.update().where(tables.t_services.c.service_name == "Task0")
                     .values(visibility="private"))
    changes, applied = state(reg)
    assert changes == applied + 1
    assert reg.total("task") == 2          # counted again, not the stale 3
    assert kept(reg) == {"task": 2}        # and kept again: keeping closes the gap first
    with storage.transaction(reg.store.engine) as conn:
        conn.execute(tables.t_services.delete().where(tables.t_services.c.service_name == "Task1"))
    reg.publish("bob", "Other", "nothing")  # the next store write finds the gap and drops them all
    assert kept(reg) == {}
    assert state(reg)[0] == state(reg)[1]
    assert reg.total("task") == 1 and kept(reg) == {"task": 1}


def test_a_count_read_before_a_change_is_not_kept(reg):
    reg.publish("alice", "Task0", "jobs")
    with storage.transaction(reg.store.engine, write=False) as conn:
        _, seen = counts.lookup(conn, ["task"])
    reg.publish("alice", "Task1", "jobs")  # a change after the count's read
    with storage.transaction(reg.store.engine) as conn:
        assert counts.keep(conn, ["task"], 1, seen, 0) is False
    assert kept(reg) == {}
    with storage.transaction(reg.store.engine, write=False) as conn:
        _, seen = counts.lookup(conn, ["task"])
    with storage.transaction(reg.store.engine) as conn:
        assert counts.keep(conn, ["task"], 2, seen, 0) is True
    assert kept(reg) == {"task": 2}


def test_a_keep_waits_for_a_write_in_flight(reg):
    """A writer holds the state row from its change to its commit; a keep started meanwhile
    waits for it, then sees the change and keeps nothing (PostgreSQL: FOR UPDATE; SQLite: the
    write lock)."""
    reg.publish("alice", "Task0", "jobs")
    with storage.transaction(reg.store.engine, write=False) as conn:
        _, seen = counts.lookup(conn, ["task"])
    kept_it: list[bool] = []
    keeper = threading.Thread(target=lambda: kept_it.append(_keep(reg, seen)))
    with storage.transaction(reg.store.engine) as conn:
        conn.execute(tables.t_services.update().where(tables.t_services.c.service_name == "Task0")
                     .values(description="task again"))
        keeper.start()
        keeper.join(0.5)
        assert keeper.is_alive()  # waiting for the writer
    keeper.join(30)
    assert kept_it == [False] and kept(reg) == {}


def _keep(reg: Registry, seen: int) -> bool:
    with storage.transaction(reg.store.engine) as conn:
        return counts.keep(conn, ["task"], 1, seen, 0)


def test_the_oldest_go_first(reg, monkeypatch):
    monkeypatch.setattr(counts, "MAX_KEPT", 2)
    reg.publish("alice", "TaskQueue", "jobs bill")
    for q in ("task", "queue", "jobs"):
        reg.clock.now += 1
        reg.total(q)
    assert sorted(kept(reg)) == ["jobs", "queue"]
    assert reg.total("task") == 1


def test_the_python_match_is_the_sql_match(reg):
    """:func:`counts.matches` against the index itself, row by row, for every query."""
    for n, word in enumerate(WORDS):
        reg.publish(HANDLES[n % 3], f"{NAMES[n % len(NAMES)]}Svc{n}", " ".join(WORDS[n:n + 3]))
    set_visibility(reg, "alice", f"{NAMES[0]}Svc0", "private")
    with storage.transaction(reg.store.engine, write=False) as conn:
        rows = [dict(r) for r in conn.execute(sa.select(tables.t_services)).mappings()]
        for q in QUERIES:
            ws = search.WordSearch(conn, tables.t_services, q, reg.store.search_backend)
            assert ws.count() == sum(counts.matches(ws.words, reg.store.search_backend, r) for r in rows), q


def test_the_triggers_count_rows_not_statements_and_only_real_changes(reg):
    reg.publish("alice", "Task0", "jobs")
    changes = state(reg)[0]
    row = {k: v for k, v in _service_row(reg, "Task0").items() if k != "id"}
    with storage.transaction(reg.store.engine) as conn:  # one bulk insert of three rows
        conn.execute(tables.t_services.insert(), [{**row, "service_name": f"Bulk{n}", "name_lower": f"bulk{n}",
                                                   "token_id": f"b{n}"} for n in range(3)])
    assert state(reg)[0] == changes + 3
    with storage.transaction(reg.store.engine) as conn:  # a column nobody searches: not a change
        conn.execute(tables.t_services.update().values(status="deprecated"))
    with storage.transaction(reg.store.engine) as conn:  # the same value again: not a change
        conn.execute(tables.t_services.update().values(visibility="public"))
    assert state(reg)[0] == changes + 3
    with storage.transaction(reg.store.engine) as conn:
        conn.execute(tables.t_services.update().where(tables.t_services.c.service_name.like("Bulk%"))
                     .values(description="other"))
        conn.execute(tables.t_services.delete().where(tables.t_services.c.service_name == "Bulk0"))
    assert state(reg)[0] == changes + 7


def _service_row(reg: Registry, name: str) -> dict:
    with storage.transaction(reg.store.engine, write=False) as conn:
        return dict(conn.execute(sa.select(tables.t_services).where(tables.t_services.c.service_name == name))
                    .mappings().one())


def test_the_upgrade_from_r0005_starts_with_nothing_kept_and_counts_from_then(database_url):
    engine = storage.create_engine(database_url)
    try:
        assert storage.upgrade(engine, tables.MIGRATIONS, "r0005") == "r0005"
        assert "registry_search_state" not in sa.inspect(engine).get_table_names()
        assert storage.upgrade(engine, tables.MIGRATIONS) == "r0006"
        with storage.transaction(engine) as conn:
            assert conn.execute(sa.select(tables.t_search_state)).mappings().one() == {
                "id": 1, "changes": 0, "applied": 0}
            assert conn.execute(sa.select(sa.func.count()).select_from(tables.t_match_counts)).scalar_one() == 0
            conn.execute(tables.t_handles.insert().values(**handle_row("olga", Key(), 0)))
            conn.execute(tables.t_services.insert().values(
                handle="olga", service_name="Maps", name_lower="maps", visibility="public", description="tiles",
                search_text=tables.search_text("Maps", "tiles", "olga"), token_id="t", contract_id="0" * 64,
                manifest_json="{}", delegation_json="{}", version=1, method_count=1, status="stable",
                published_at=0, updated_at=0))
            assert tuple(conn.execute(sa.select(tables.t_search_state.c.changes,
                                                tables.t_search_state.c.applied)).one()) == (1, 0)
    finally:
        engine.dispose()


def test_a_busy_database_answers_without_keeping(tmp_path, monkeypatch):
    """Keeping a count is a saving: when the write lock cannot be had, discover answers anyway."""
    monkeypatch.setattr(storage, "SQLITE_BUSY_TIMEOUT_MS", 100)
    monkeypatch.setattr(counts, "KEEP_AFTER", 0.0)
    reg = Registry(str(tmp_path / "r.db"))
    try:
        reg.publish("alice", "Task0", "jobs")
        with storage.transaction(reg.store.engine):  # another writer holds SQLite's write lock
            assert reg.total("task") == 1
        assert kept(reg) == {}
        assert reg.total("task") == 1 and kept(reg) == {"task": 1}
    finally:
        reg.store.engine.dispose()


def test_the_store_and_the_triggers_agree_on_the_searched_columns():
    import importlib.util
    from pathlib import Path

    path = Path(counts.__file__).parent / "migrations" / "versions" / "0006_match_counts.py"
    spec = importlib.util.spec_from_file_location("registry_r0006", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.SEARCH_COLUMNS == counts.SEARCHED
    assert set(counts.SEARCHED) <= {c.name for c in tables.t_services.c}


def test_hostile_queries_are_counted_as_they_match_and_kept_exact(reg):
    """What a stranger may type: LIKE wildcards, quotes, backslashes, FTS syntax, the longest query
    of the most words, a trailing newline; each answers its true count, and what is kept of them
    stays exact through a write."""
    reg.publish("alice", "Pct", 'fifty % off, "quoted" and back\\slash task_queue')
    reg.publish("bob", "Plain", "task queue")
    hostile = ["%", "_", '"', '""', "\\", "task_queue", "task%queue", 'task" OR "queue', "NEAR(task queue)",
               "task*", "-task", "a " * 99 + "b", "x" * 200, "  task  queue  "]
    for q in hostile:
        assert reg.total(q) == fresh(reg, q.strip()), q
    for q in ("task\n", "\ttask", "x" * 201):  # refused as they are, nothing counted or kept
        with pytest.raises(Refused):
            reg.total(q)
    reg.publish("bob", "More", "50% task_queue \\ \"")
    held = kept(reg)
    assert held and held == {q: fresh(reg, q) for q in held}
    assert not any("\n" in q or "\t" in q for q in held)
    for q in hostile:
        assert reg.total(q) == fresh(reg, q.strip()), q
