"""Ranked word search for ``discover`` (the query is not ``@handle`` and not empty).

What matches (unchanged from the first release, registry.md §4.6): a **public** service whose
lowercased ``name description handle`` contains every query word as a substring. The index
makes that fast without changing it: SQLite's FTS5 trigram table (migration r0003) finds the
rows for words of 3+ characters, PostgreSQL's trigram GIN index serves the same ``LIKE``;
shorter words are checked with ``LIKE`` on the candidates.

The order, deterministic on both dialects:

1. services whose name *is* the query (one word), newest first;
2. the **ranked window**: of the newest :data:`RANK_WINDOW` matches (by id), those whose name
   starts with the query first, then by relevance (SQLite ``bm25`` with weights name 10,
   description 2, handle 1; PostgreSQL ``ts_rank`` over the tsvector, name A, description B,
   handle C, prefix terms), then ``published_at`` and id descending;
3. the rest of the matches, newest first.

The window bounds the ranking work: a word found in 10,000 services would otherwise have every
one of them scored per query. Up to :data:`RANK_WINDOW` matches (every selective query) the
whole result is ranked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

#: How many of the newest matches are ranked by relevance (the rest follow newest first).
RANK_WINDOW = 500
#: The FTS5 table of migration r0003 (public services only, kept in sync by triggers).
FTS = "registry_services_fts"
#: Words shorter than a trigram cannot be looked up in the index; they filter the candidates.
MIN_INDEXED = 3
#: bm25 column weights in the FTS table's column order (name_lower, description, handle).
BM25_WEIGHTS = (10.0, 2.0, 1.0)

_fts = sa.table(FTS, sa.column("rowid"), sa.column(FTS))


def backend(conn: Connection) -> str:
    """``"fts5"``, ``"pg_trgm+tsvector"`` or ``"scan"`` (SQLite without FTS5)."""
    if conn.dialect.name == "postgresql":
        return "pg_trgm+tsvector"
    found = conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (FTS,)).first()
    return "fts5" if found else "scan"


def _fts_phrase(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def _pg_like(column: Any, word: str) -> Any:
    # PostgreSQL's default LIKE escape is the backslash: no ESCAPE clause, so the planner sees a
    # plain constant pattern and uses the trigram index
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(f"%{escaped}%")


def _pg_tsquery(words: list[str]) -> str:
    terms = [f"{run}:*" for word in words for run in re.findall(r"\w+", word)]
    return " & ".join(terms)


@dataclass
class _Plan:
    source: Any                  # what counts and bounds select from
    rows_source: Any             # the same joined with the services table (to read their columns)
    where: list[Any]             # every match condition
    id_col: Any                  # the services' id as seen from ``source``
    score: list[Any]             # relevance ORDER BY terms (best first)


class WordSearch:
    """One word query over ``services`` (the store's ``registry_services`` table)."""

    def __init__(self, conn: Connection, services: sa.Table, text: str, engine_backend: str) -> None:
        self.conn = conn
        self.s = services
        self.needle = text.lower()
        self.words = [w for w in self.needle.split() if w]
        self.single = len(self.words) == 1
        self.plan = self._plan(engine_backend)

    def _plan(self, engine_backend: str) -> _Plan:
        s = self.s.c
        long_words = [w for w in self.words if len(w) >= MIN_INDEXED]
        if engine_backend == "fts5" and long_words:
            short = [s.search_text.contains(w, autoescape=True) for w in self.words if len(w) < MIN_INDEXED]
            match = sa.column(FTS).match(" ".join(_fts_phrase(w) for w in long_words))
            joined = _fts.join(self.s, s.id == _fts.c.rowid)
            bm25 = sa.func.bm25(sa.literal_column(FTS), *BM25_WEIGHTS)
            return _Plan(joined if short else _fts, joined, [match, *short], _fts.c.rowid, [bm25])
        if engine_backend == "pg_trgm+tsvector":
            where = [s.visibility == "public", *(_pg_like(s.search_text, w) for w in self.words)]
            tsquery = _pg_tsquery(self.words)
            score = []
            if tsquery:
                vector = sa.literal_column("registry_services.search_vector")
                score = [sa.func.ts_rank(vector, sa.func.to_tsquery("simple", tsquery)).desc()]
            return _Plan(self.s, self.s, where, s.id, score)
        where = [s.visibility == "public", *(s.search_text.contains(w, autoescape=True) for w in self.words)]
        return _Plan(self.s, self.s, where, s.id, [])

    # ------------------------------------------------------------------ pieces

    def _count(self) -> int:
        p = self.plan
        return self.conn.execute(sa.select(sa.func.count()).select_from(p.source).where(*p.where)).scalar_one()

    def _boundary(self) -> int:
        """The id of the :data:`RANK_WINDOW`-th newest match."""
        p = self.plan
        return self.conn.execute(sa.select(p.id_col).select_from(p.source).where(*p.where)
                                 .order_by(p.id_col.desc()).limit(1).offset(RANK_WINDOW - 1)).scalar_one()

    def _rows(self, columns: list[Any], where: list[Any], order: list[Any], offset: int,
              limit: int) -> list[dict[str, Any]]:
        p = self.plan
        stmt = (sa.select(*columns).select_from(p.rows_source).where(*p.where, *where)
                .order_by(*order, self.s.c.published_at.desc(), self.s.c.id.desc()).limit(limit).offset(offset))
        return [dict(r) for r in self.conn.execute(stmt).mappings()]

    # ------------------------------------------------------------------ the page

    def page(self, columns: list[Any], limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        s = self.s.c
        p = self.plan
        total = self._count()
        if total == 0:
            return 0, []
        boundary = self._boundary() if total > RANK_WINDOW else None
        in_window = [p.id_col >= boundary] if boundary is not None else []
        exact_where = [s.visibility == "public", s.name_lower == self.needle]
        segments: list[tuple[int, Callable[[int, int], list[dict[str, Any]]]]] = []
        not_exact: list[Any] = []
        exact_in_window = 0
        if self.single:
            exact = self.conn.execute(sa.select(sa.func.count()).select_from(self.s).where(*exact_where)).scalar_one()
            if exact:
                not_exact = [s.name_lower != self.needle]
                if boundary is not None:
                    exact_in_window = self.conn.execute(sa.select(sa.func.count()).select_from(self.s).where(
                        *exact_where, s.id >= boundary)).scalar_one()
                else:
                    exact_in_window = exact

                def exact_rows(off: int, n: int) -> list[dict[str, Any]]:
                    stmt = (sa.select(*columns).where(*exact_where)
                            .order_by(s.published_at.desc(), s.id.desc()).limit(n).offset(off))
                    return [dict(r) for r in self.conn.execute(stmt).mappings()]

                segments.append((exact, exact_rows))
        else:
            exact = 0
        prefix = [sa.case((s.name_lower.startswith(self.needle, autoescape=True), 0), else_=1)] if self.single else []
        window_size = (RANK_WINDOW if boundary is not None else total) - exact_in_window
        segments.append((window_size, lambda off, n: self._rows(columns, [*in_window, *not_exact],
                                                                 [*prefix, *p.score], off, n)))
        if boundary is not None:
            segments.append((total - exact - window_size,
                             lambda off, n: self._rows(columns, [p.id_col < boundary, *not_exact], [], off, n)))
        return total, _paginate(segments, offset, limit)


def _paginate(segments: list[tuple[int, Callable[[int, int], list[dict[str, Any]]]]], offset: int,
              limit: int) -> list[dict[str, Any]]:
    """Rows ``offset .. offset + limit`` of the segments laid end to end."""
    out: list[dict[str, Any]] = []
    for size, fetch in segments:
        if len(out) >= limit:
            break
        if offset >= size:
            offset -= size
            continue
        out.extend(fetch(offset, min(limit - len(out), size - offset)))
        offset = 0
    return out
