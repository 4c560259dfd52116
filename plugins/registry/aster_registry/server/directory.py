"""PublicationService's reads: discover (ranked words through :mod:`.search`, ``@handle``, or
everything public), one service, one handle's card, the directory of handles, manifests and
live endpoints. Each is one read transaction; none is signed (the handler counts the read
against the caller's read limit). A word query whose count is large keeps it (:mod:`.counts`)
in a short write transaction after its read.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aster_server import storage
from aster_server.pagecache import PageCache
from aster_server.request import Page, Refused

from .. import wire
from . import counts, protect, search
from .database import Database
from .tables import entry, iso, live_endpoints, service, t_endpoints, t_handles, t_services

#: every column a listing shows (not the manifest, the search text or the token id)
_LISTED = [c for c in t_services.c if c.name not in ("manifest_json", "search_text", "token_id")]


class Directory:
    def __init__(self, db: Database) -> None:
        self.db = db
        #: discover's pages, kept a second or until this server writes (:mod:`.pagecache`)
        self.pages = PageCache(clock=db.clock)

    def describe_service(self, handle: str, name: str) -> dict[str, Any]:
        handle = protect.check_handle(handle)
        name = protect.check_service_name(name)

        def body(conn: Connection) -> dict[str, Any]:
            svc = service(conn, handle, name)
            return entry(svc, live_endpoints(conn, [svc["id"]], self.db.now()).get(svc["id"], 0))

        return self.db.read(body)

    def discover(self, query: str, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        """``(total matches, one page of entries)``; see README "Discovery" for the order."""
        text = (protect.check_str(query, "query", protect.MAX_QUERY) or "").strip()
        page = Page.of(limit, offset, wire.MAX_LIMIT, wire.DEFAULT_LIMIT)
        backend = self.db.search_backend

        counted: list[tuple[list[str], int, int]] = []  # a large count to keep: (words, total, counter seen)

        def kept_or_counted(conn: Connection, words: list[str], count: Callable[[], int]) -> int:
            """The kept count of the query of ``words``, or ``count()``'s (kept after the read
            when counting took long)."""
            total, seen = counts.lookup(conn, words)
            if total is None:
                started = time.perf_counter()
                total = count()
                if time.perf_counter() - started >= counts.KEEP_AFTER:
                    counted.append((words, total, seen))
            return total

        def matches(conn: Connection) -> tuple[int, list[dict[str, Any]]]:
            # the statement is built here, on a miss: building it cost more than a kept page's answer
            s = t_services.c
            where: list[Any] = []
            if text.startswith("@"):
                handle, _, rest = text[1:].partition("/")
                where.append(s.handle == handle.lower())
                if rest:
                    where.append(s.name_lower.contains(rest.lower(), autoescape=True))
            else:
                where.append(s.visibility == "public")
            if text and not text.startswith("@"):
                words = search.WordSearch(conn, t_services, text, backend)
                total = kept_or_counted(conn, words.words, words.count)
                return words.page(_LISTED, page.limit, page.offset, total)
            def count() -> int:
                return conn.execute(sa.select(sa.func.count()).select_from(t_services).where(*where)).scalar_one()

            if not text and backend == "fts5":  # the index holds every public service
                total = search.fts_totals(conn)[0]
            elif not text:  # every public service: counting them is a full pass too
                total = kept_or_counted(conn, [], count)
            else:
                total = count()
            return total, [dict(r) for r in conn.execute(
                sa.select(*_LISTED).where(*where).order_by(s.published_at.desc(), s.id.desc())
                .limit(page.limit).offset(page.offset)).mappings()]

        def body(conn: Connection) -> tuple[int, list[dict[str, Any]]]:
            total, rows = matches(conn)
            live = live_endpoints(conn, [r["id"] for r in rows], self.db.now())
            return total, [entry(r, live.get(r["id"], 0)) for r in rows]

        def read() -> tuple[int, list[dict[str, Any]]]:
            answer = self.db.read(body)
            for words, total, seen in counted:
                try:
                    # the count it keeps is the count just read: no answer changes, the page is kept
                    self.db.write(lambda conn: counts.keep(conn, words, total, seen, self.db.now()),
                                  changes_answers=False)
                except sa.exc.DBAPIError as exc:  # keeping is a saving: a busy database skips it
                    if not storage.is_transient(exc):
                        raise
            return answer

        return self.pages.get_or_read((text, page.limit, page.offset), lambda: self.db.generation, read)

    def list_services(self, handle: str) -> tuple[str, list[dict[str, Any]]]:
        handle = protect.check_handle(handle)
        return handle, self.discover(f"@{handle}", wire.MAX_LIMIT, 0)[1]

    def get_manifest(self, handle: str, name: str) -> dict[str, Any]:
        handle = protect.check_handle(handle)
        name = protect.check_service_name(name)
        svc = self.db.read(lambda c: service(c, handle, name))
        return {"handle": handle, "service_name": name, "contract_id": svc["contract_id"],
                "manifest_json": svc["manifest_json"]}

    def resolve(self, handle: str, name: str) -> tuple[dict[str, Any], list[tuple[str, str, list[str]]]]:
        """The service and its live endpoints ``(node_id, relay, direct_addrs)``, those with
        addresses first, newest first."""
        handle = protect.check_handle(handle)
        name = protect.check_service_name(name)
        now = self.db.now()
        e = t_endpoints.c

        def body(conn: Connection) -> Any:
            svc = service(conn, handle, name)
            rows = conn.execute(sa.select(t_endpoints).where(e.service_id == svc["id"], e.expires_at >= now)
                                .order_by(sa.case((e.direct_addrs == "[]", 1), else_=0),
                                          e.registered_at.desc())).mappings().all()
            return svc, [(r["node_id"], r["relay"], json.loads(r["direct_addrs"] or "[]")) for r in rows]

        return self.db.read(body)

    def describe_handle(self, handle: str) -> dict[str, Any]:
        handle = protect.check_handle(handle)

        def body(conn: Connection) -> dict[str, Any]:
            row = conn.execute(sa.select(t_handles).where(t_handles.c.handle == handle,
                                                          t_handles.c.status == "verified")).mappings().first()
            if row is None:
                raise Refused("NOT_FOUND", f"@{handle} is not a verified handle")
            return _card(conn, dict(row))

        return self.db.read(body)

    def list_directory_handles(self, limit: int, offset: int) -> list[dict[str, Any]]:
        """Verified handles, most recently published first."""
        page = Page.of(limit, offset, wire.MAX_LIMIT, wire.DEFAULT_LIMIT)
        h = t_handles.c

        def body(conn: Connection) -> list[dict[str, Any]]:
            rows = conn.execute(sa.select(t_handles).where(h.status == "verified").order_by(
                sa.func.coalesce(h.last_published_at, 0).desc(), h.created_at.desc(), h.handle)
                .limit(page.limit).offset(page.offset)).mappings().all()
            return [_card(conn, dict(r)) for r in rows]

        return self.db.read(body)


def _card(conn: Connection, handle_row: dict[str, Any]) -> dict[str, Any]:
    """A handle as a ``DirectoryHandle``'s fields (its public services counted)."""
    count = conn.execute(sa.select(sa.func.count()).select_from(t_services).where(
        t_services.c.handle == handle_row["handle"], t_services.c.visibility == "public")).scalar_one()
    return {"handle": handle_row["handle"], "service_count": count, "display_name": handle_row["display_name"],
            "registered_at": iso(handle_row["created_at"]),
            "last_published_at": iso(handle_row["last_published_at"]) or None}
