"""aster-server: what `aster registry serve` and `aster authority serve` share.

- :mod:`aster_server.storage`: engines (SQLite/PostgreSQL), one-transaction helpers,
  compare-and-swap, Alembic migrations run programmatically.
- :mod:`aster_server.lifecycle`: node key, AsterServer start, ready lines, one log line per
  request, graceful stop on SIGTERM/SIGINT, health.

Importing this package imports neither SQLAlchemy nor the runtime; the submodules do.
"""

__version__ = "0.1.0"
