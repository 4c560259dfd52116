"""A read run on every request, made cheap: :class:`PreparedRead`.

Through SQLAlchemy, a one-row read by key costs about 200-450 us on SQLite (checking out a
connection, the transaction's ``BEGIN`` and ``COMMIT`` as statements, building and caching the
query, an execution context, a result object), while SQLite answers it in 5 us. A read that
every call of a server makes (the authority's "is this admin revoked?", asked before any admin
method) then costs more than the rest of an answer served from memory.

:class:`PreparedRead` compiles its statement once per dialect and runs it on a pooled DBAPI
connection: one cursor, one ``execute``, one ``fetchone`` (about 35 us). On SQLite the
statement is its own transaction (the connections run in autocommit; see
:func:`aster_server.storage.create_engine`); on PostgreSQL the pool rolls the read back when
the connection is returned. A driver error is raised as SQLAlchemy raises it
(``sqlalchemy.exc.DBAPIError`` and its subclasses), so :func:`aster_server.storage.is_transient`
and the request layer's mapping treat it as any other, and a dropped connection is invalidated.

Only for reads of plain values by plain parameters: parameters go to the driver as they are
(strings, integers, ``None``) and the row comes back as the driver's tuple (no type
processing: a ``Boolean`` column reads as 0/1 on SQLite).
"""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

__all__ = ["PreparedRead"]


class PreparedRead:
    """``PreparedRead(select).first(engine, **params)``: the statement's first row as a tuple, or
    ``None``. ``select`` names its parameters with ``sqlalchemy.bindparam``; build it once (at
    import) and share it: thread-safe."""

    def __init__(self, statement: sa.Select) -> None:
        self.statement = statement
        self._lock = threading.Lock()
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None]] = {}

    def _for(self, engine: Engine) -> tuple[str, tuple[str, ...] | None]:
        """The SQL text for ``engine``'s dialect, and the order of its parameters when the
        driver takes them by position (SQLite's ``?``), ``None`` when by name (psycopg)."""
        key = engine.dialect.name
        found = self._compiled.get(key)
        if found is None:
            compiled = self.statement.compile(dialect=engine.dialect)
            order = tuple(compiled.positiontup or ()) if compiled.positional else None
            found = (str(compiled), order)
            with self._lock:
                self._compiled[key] = found
        return found

    def first(self, engine: Engine, **params: Any) -> tuple[Any, ...] | None:
        sql, order = self._for(engine)
        args: Any = tuple(params[name] for name in order) if order is not None else params
        conn = engine.raw_connection()  # a pooled connection (pinged first where the pool does)
        try:
            cursor = conn.cursor()
            try:
                cursor.execute(sql, args)
                row = cursor.fetchone()
            finally:
                cursor.close()
        except engine.dialect.loaded_dbapi.Error as exc:
            gone = engine.dialect.is_disconnect(exc, conn.dbapi_connection, None)
            if gone:
                conn.invalidate(exc)
            raise sa.exc.DBAPIError.instance(sql, args, exc, engine.dialect.loaded_dbapi.Error,
                                              connection_invalidated=gone, dialect=engine.dialect) from exc
        finally:
            conn.close()  # back to the pool, which rolls an open transaction back
        return None if row is None else tuple(row)
