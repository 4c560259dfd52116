"""Exact match counts of common word queries, kept in step with every write (migration r0006).

``discover`` answers ``total``, the exact number of matches (the released client prints
"Found N service(s)"). Counting a word found in 100,000 of a million services walks its whole
index entry: 23-100 ms on SQLite, most of such a discover; the page itself is a few
milliseconds. So a count that took :data:`KEEP_AFTER` or longer is kept in ``registry_match_counts``
and kept exact from then on: every write that inserts, deletes or changes the searched columns
of a service applies its difference to each kept count, in its own transaction
(:func:`apply`, with :func:`matches`, the Python twin of the SQL match of :mod:`.search`).

Nothing stale is ever answered:

- triggers count in ``registry_search_state.changes`` every row inserted, deleted, or updated
  with a searched column changed, whoever makes the change (this server, an older replica
  during an upgrade, an operator's SQL); :func:`apply` counts in ``applied`` each one it has
  applied. :func:`lookup` trusts the kept counts only while the two are equal; the next write
  through the store finds the gap and drops them all.
- a count is kept (:func:`keep`) only if nothing changed between the read that counted it and
  the write that keeps it: the read notes ``changes`` before counting, the write locks the state
  row (PostgreSQL ``FOR UPDATE``; SQLite's write transaction excludes other writers) and
  compares. Writers hold that row from their change to their commit (the trigger updates it),
  so a write in flight is either seen in the count or waited for and seen in the comparison.
"""

from __future__ import annotations

import functools
from typing import Any, Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aster_server import storage

from . import search
from .tables import t_match_counts, t_search_state

#: a count that took at least this long (seconds) is kept: large ones, and few-word queries of
#: common words with few or no matches in common (their index entries are walked all the same)
KEEP_AFTER = 0.005
#: how many counts are kept at most (the oldest go first)
MAX_KEPT = 1_000
#: the one row of ``registry_search_state``
STATE = {"id": 1}
#: the columns a word query looks at: a change to one of them is what the triggers of migration
#: r0006 count (its SEARCH_COLUMNS)
SEARCHED = ("name_lower", "description", "handle", "visibility", "search_text")


def key(words: Iterable[str]) -> str:
    """A query's key: its distinct words, sorted (the match does not depend on their order)."""
    return " ".join(sorted(set(words)))


def matches(words: list[str], backend: str, row: Mapping[str, Any] | None) -> bool:
    """Whether ``row`` (a ``registry_services`` row) is a match of a word query of ``words``, as
    the query of :class:`.search.WordSearch` on ``backend`` decides it."""
    return _found(_parsed(key(words), backend), _searched(backend, row))


@functools.lru_cache(maxsize=4 * MAX_KEPT)
def _parsed(query: str, backend: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A kept query's words as the index looks them up: (folded words found in one indexed
    column, words found in the search text). Only FTS5 has the first kind, and only when the
    query has a word long enough to be indexed. The empty query (no word) matches every public
    service."""
    words = query.split(" ") if query else []
    if backend == "fts5" and any(len(w) >= search.MIN_INDEXED for w in words):
        return (tuple(search.fold(w) for w in words if len(w) >= search.MIN_INDEXED),
                tuple(w for w in words if len(w) < search.MIN_INDEXED))
    return (), tuple(words)


def _searched(backend: str, row: Mapping[str, Any] | None) -> tuple[str, str] | None:
    """What a query looks into in ``row``: its folded indexed columns, one per line (FTS5; a
    word has no white space, so it is found in the joined text only inside one column), and
    its search text; None when it is not public (no query finds it)."""
    if row is None or row["visibility"] != "public":
        return None
    columns = "\n".join(search.fold(row[c] or "") for c in search.FTS_COLUMNS) if backend == "fts5" else ""
    return columns, row["search_text"] or ""


def _found(query: tuple[tuple[str, ...], tuple[str, ...]], searched: tuple[str, str] | None) -> bool:
    if searched is None:
        return False
    in_column, in_text = query
    return all(w in searched[0] for w in in_column) and all(w in searched[1] for w in in_text)


def lookup(conn: Connection, words: list[str]) -> tuple[int | None, int]:
    """``(the kept count of the query or None, the change counter)`` in one statement; read it
    before counting, so the count is at least as new as the counter."""
    kept = sa.select(t_match_counts.c.total).where(t_match_counts.c.query == key(words)).scalar_subquery()
    s = t_search_state.c
    row = conn.execute(sa.select(s.changes, s.applied, kept.label("kept")).where(s.id == 1)).first()
    if row is None:
        return None, -1
    return (row.kept if row.changes == row.applied else None), row.changes


def _reset(conn: Connection, changes: int) -> None:
    conn.execute(t_match_counts.delete())
    conn.execute(t_search_state.update().where(t_search_state.c.id == 1).values(applied=changes))


def keep(conn: Connection, words: list[str], total: int, seen: int, now: int) -> bool:
    """Keep ``total`` (counted after :func:`lookup` answered ``seen``) if nothing has changed
    since; in a write transaction. Whether it was kept. A gap (changes nobody applied) drops
    every kept count first."""
    state = storage.lock(conn, t_search_state, STATE)  # until the transaction ends
    assert state is not None, "migration r0006 inserts the state row"
    if state["changes"] != state["applied"]:
        _reset(conn, state["changes"])
    if state["changes"] != seen:
        return False
    storage.upsert(conn, t_match_counts, {"query": key(words), "total": total, "counted_at": now}, ["query"])
    c = t_match_counts.c
    over = conn.execute(sa.select(sa.func.count()).select_from(t_match_counts)).scalar_one() - MAX_KEPT
    if over > 0:
        oldest = sa.select(c.query).order_by(c.counted_at, c.query).limit(over).scalar_subquery()
        conn.execute(t_match_counts.delete().where(c.query.in_(oldest)))
    return True


#: what every write that changed a searched column runs (built once: a publish's own statements
#: are few, and building these each time cost as much as running them)
_COUNT_APPLIED = (t_search_state.update().where(t_search_state.c.id == 1)
                  .values(applied=t_search_state.c.applied + 1)
                  .returning(t_search_state.c.changes, t_search_state.c.applied))
_KEPT_QUERIES = sa.select(t_match_counts.c.query)


def apply(conn: Connection, backend: str, before: Mapping[str, Any] | None,
          after: Mapping[str, Any] | None) -> None:
    """After a statement that inserted (``before`` None), deleted (``after`` None) or updated one
    service row, in its transaction: each kept count gains or loses it. One statement when the
    row is not one any kept query finds, before or after."""
    if before is not None and after is not None and all(before[c] == after[c] for c in SEARCHED):
        return  # nothing searched changed: the triggers counted nothing
    changes, applied = conn.execute(_COUNT_APPLIED).one()
    if changes != applied:  # a change this code never saw: nothing kept can be trusted
        _reset(conn, changes)
        return
    was, now = _searched(backend, before), _searched(backend, after)
    if was == now:
        return
    up: list[str] = []
    down: list[str] = []
    for (query,) in conn.execute(_KEPT_QUERIES).all():
        parsed = _parsed(query, backend)
        delta = _found(parsed, now) - _found(parsed, was)
        if delta > 0:
            up.append(query)
        elif delta < 0:
            down.append(query)
    c = t_match_counts.c
    for queries, step in ((up, 1), (down, -1)):
        if queries:
            conn.execute(t_match_counts.update().where(c.query.in_(queries)).values(total=c.total + step))
