"""Ranked word search for ``discover`` (the query is not ``@handle`` and not empty).

What matches (unchanged from the first release, as the released client expects): a **public** service whose
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

The one full pass over the matches is the exact count (:meth:`WordSearch.count`); a large one is
kept exact by the writes instead (:mod:`.counts`). On SQLite, a one-word query does not let
``bm25()`` make a second one (its idf needs the number of rows holding the word, which FTS5
counts by walking the whole index again): :class:`_Bm25` computes the same value, with the same
floating-point operations, from that count, the index's own totals and per-row sizes (its
``_data`` averages record and ``_docsize`` table) and the hits counted in the window's rows.
Queries of several words keep ``bm25()`` (their idf terms need one count per word anyway).
"""

from __future__ import annotations

import math
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
#: bm25 column weights in the FTS table's column order (name_lower, description, handle); whole
#: numbers, so weight x hits is the sum FTS5 adds up one hit at a time.
BM25_WEIGHTS = (10.0, 2.0, 1.0)
#: the FTS table's columns, in order (the services table's columns of the same names)
FTS_COLUMNS = ("name_lower", "description", "handle")

#: FTS5's bm25 constants (fts5_aux.c)
BM25_K1, BM25_B = 1.2, 0.75

_fts = sa.table(FTS, sa.column("rowid"), sa.column(FTS))
_docsize = sa.table(f"{FTS}_docsize", sa.column("id"), sa.column("sz"))


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


def _varints(blob: bytes) -> list[int]:
    """SQLite's varints (FTS5's averages record and ``_docsize`` blobs are runs of them)."""
    out: list[int] = []
    i = 0
    while i < len(blob):
        value = 0
        for n in range(9):
            byte = blob[i]
            i += 1
            if n == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if byte < 0x80:
                break
        out.append(value)
    return out


def fts_totals(conn: Connection) -> tuple[int, int]:
    """(rows, tokens) in the FTS index: its averages record, kept by FTS5 with every write."""
    row = conn.exec_driver_sql(f"SELECT block FROM {FTS}_data WHERE id = 1").first()
    values = _varints(row[0]) if row else []
    return (values[0], sum(values[1:])) if values else (0, 0)


def fold(text: str) -> str:
    """The trigram tokenizer's case folding (one character to one character)."""
    if text.isascii():
        return text.lower()
    return "".join(low if len(low := c.lower()) == 1 else c for c in text)


def _hits(text: str, word: str, overlaps: bool) -> int:
    """Occurrences of ``word`` in ``text``, overlapping ones too (a phrase instance per start)."""
    if not overlaps:
        return text.count(word)
    n, at = 0, text.find(word)
    while at >= 0:
        n, at = n + 1, text.find(word, at + 1)
    return n


def _size(blob: bytes) -> int:
    """A row's token count: the sum of its ``_docsize`` varints (one byte each below 128)."""
    return sum(blob) if blob.isascii() else sum(_varints(blob))


class _Bm25:
    """FTS5's ``bm25(FTS, *BM25_WEIGHTS)`` of a one-phrase query, bit for bit (fts5_aux.c), from
    the phrase's row count (``hits``) and the index totals instead of another pass over it."""

    def __init__(self, word: str, rows: int, tokens: int, hits: int) -> None:
        self.word = word
        self.overlaps = any(word[:k] == word[-k:] for k in range(1, len(word)))
        hits = min(hits, rows)  # a count from another moment than the index totals never breaks the log
        idf = math.log((rows - hits + 0.5) / (hits + 0.5))
        self.idf = idf if idf > 0.0 else 1e-6
        self.avgdl = float(tokens) / float(rows)
        self.memo: dict[tuple[float, int], float] = {}

    def __call__(self, columns: tuple[str, str, str], sizes: bytes) -> float:
        freq = 0.0
        for text, weight in zip(columns, BM25_WEIGHTS):
            freq += weight * _hits(fold(text), self.word, self.overlaps)
        length = _size(sizes)
        score = self.memo.get((freq, length))
        if score is None:
            tf = (freq * (BM25_K1 + 1.0)) / (freq + BM25_K1 * (1 - BM25_B + BM25_B * float(length) / self.avgdl))
            score = self.memo[(freq, length)] = -1.0 * (0.0 + self.idf * tf)
        return score


@dataclass
class _Plan:
    source: Any                  # what counts and bounds select from
    rows_source: Any             # the same joined with the services table (to read their columns)
    where: list[Any]             # every match condition
    id_col: Any                  # the services' id as seen from ``source``
    score: list[Any]             # relevance ORDER BY terms (best first)
    phrase: str | None = None    # the one word whose bm25 :class:`_Bm25` computes (SQLite)


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
            phrase = fold(self.words[0]) if len(self.words) == 1 and not short else None
            return _Plan(joined if short else _fts, joined, [match, *short], _fts.c.rowid, [bm25], phrase)
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

    def count(self) -> int:
        """The number of matches (a full pass over them: :mod:`.counts` keeps the large ones)."""
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

    def _ranked_ids(self, where: list[Any], total: int) -> list[int]:
        """The window's ids in rank order, scored by :class:`_Bm25` (a one-word FTS5 query)."""
        p = self.plan
        s = self.s.c
        assert p.phrase is not None
        bm25 = _Bm25(p.phrase, *fts_totals(self.conn), total)
        stmt = (sa.select(s.id, s.name_lower, s.description, s.handle, s.published_at, _docsize.c.sz)
                .select_from(p.rows_source.join(_docsize, _docsize.c.id == s.id)).where(*p.where, *where))
        keys = [(0 if name.startswith(self.needle) else 1, bm25((name, description, handle), sizes),
                 -published, -ident)
                for ident, name, description, handle, published, sizes in self.conn.execute(stmt).all()]
        keys.sort()
        return [-k[3] for k in keys]

    def _rows_by_id(self, columns: list[Any], ids: list[int]) -> list[dict[str, Any]]:
        found = {r["id"]: dict(r) for r in self.conn.execute(
            sa.select(*columns).where(self.s.c.id.in_(ids))).mappings()} if ids else {}
        return [found[i] for i in ids]

    # ------------------------------------------------------------------ the page

    def page(self, columns: list[Any], limit: int, offset: int, total: int) -> tuple[int, list[dict[str, Any]]]:
        """``(total, the page)``; ``total``: :meth:`count`'s answer (or the same number, kept)."""
        s = self.s.c
        p = self.plan
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
        if p.phrase is not None:
            ranked: list[int] = []

            def window_rows(off: int, n: int) -> list[dict[str, Any]]:
                if not ranked:
                    ranked.extend(self._ranked_ids([*in_window, *not_exact], total))
                return self._rows_by_id(columns, ranked[off:off + n])

            segments.append((window_size, window_rows))
        else:
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
