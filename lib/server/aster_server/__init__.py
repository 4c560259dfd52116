"""aster-server: what `aster registry serve` and `aster authority serve` share.

- :mod:`aster_server.request`: the request layer every handler stands on: the caller's
  identity, offloading blocking work, the one refusal type and its mapping to RPC status, paging.
- :mod:`aster_server.storage`: engines (SQLite/PostgreSQL), transactions, row locks,
  insert-or-ignore and upsert for both dialects, Alembic migrations run programmatically.
- :mod:`aster_server.lifecycle`: node key, AsterServer start, ready lines, one log line per
  request, graceful stop on SIGTERM/SIGINT, health.

Importing this package imports neither SQLAlchemy nor the runtime; the submodules do.
"""

__version__ = "0.1.0"
