"""aster-server: what `aster registry serve` and `aster authority serve` share.

- :mod:`aster_server.request`: the request layer every handler stands on: the caller's
  identity, offloading blocking work, the one refusal type and its mapping to RPC status, paging.
- :mod:`aster_server.storage`: engines (SQLite/PostgreSQL), transactions, row locks,
  insert-or-ignore and upsert for both dialects, Alembic migrations run programmatically.
- :mod:`aster_server.lifecycle`: AsterServer start, ready lines, graceful stop on
  SIGTERM/SIGINT, health; :mod:`aster_server.requestlog`: one log line per call however it
  ends; :mod:`aster_server.nodekey`: the node key (0600, in folders made 0700).
- :mod:`aster_server.sqlitefile`: a SQLite database only its owner can read (0600 with its
  -wal and -shm, looser modes tightened at start with a warning).
- :mod:`aster_server.pagecache`, :mod:`aster_server.prepared`, :mod:`aster_server.jsonmemo`:
  hot reads (answers kept a moment, a per-request read without SQLAlchemy's execution, JSON
  parsed once); :mod:`aster_server.codecs`: the runtime's codec warmed, annotations resolved.

Importing this package imports neither SQLAlchemy nor the runtime; the submodules do.
"""

__version__ = "0.1.0"
