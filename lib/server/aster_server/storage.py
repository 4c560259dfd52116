"""Storage shared by the servers: engines, transactions, row locks, dialect-neutral writes,
migrations.

SQLAlchemy Core 2.x for both dialects:

- SQLite (the default): one file, WAL journal, foreign keys on, a busy timeout, and write
  transactions that take the write lock up front (``BEGIN IMMEDIATE``) so two writers queue
  instead of failing half-way.
- PostgreSQL through psycopg 3: ``postgresql+psycopg://...``; ``postgresql://`` and
  ``postgres://`` are accepted and mean the same.

Every state change runs in one transaction (:func:`transaction`). Where two writers can race
on one record, the transaction first takes the record's parent row with :func:`lock`
(``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the write transaction already excludes
other writers), so writers queue and none loses an update (README: "Concurrency").
:func:`insert_ignore` and :func:`upsert` write a row in one statement on both dialects.
Schema changes are Alembic migrations run programmatically (:func:`upgrade`): each server
ships a ``migrations`` package with a ``versions/`` folder and its own version table, so two
servers can share one database.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.engine.url import URL

from aster_core.errors import AsterError, UsageError

#: Milliseconds a SQLite connection waits for the write lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 10_000

_WRITE = "aster_write"


class StorageError(AsterError):
    """The database could not be reached, opened or migrated (exit 1)."""


# ---------------------------------------------------------------------------- URLs


def normalize_url(url: str | os.PathLike[str] | URL) -> URL:
    """A SQLAlchemy URL for what a user typed after ``--db``.

    ``postgresql://``, ``postgres://`` and ``postgresql+psycopg://`` all use psycopg 3;
    ``sqlite:///PATH`` and a bare path (``registry.db``, ``/var/lib/x.db``) mean a SQLite file
    (made absolute); ``sqlite://`` alone is an in-memory database (tests only).
    Anything else is a usage error.
    """
    if isinstance(url, URL):
        parsed = url
    else:
        text = os.fspath(url).strip()
        if not text:
            raise UsageError("the database URL is empty", "pass --db PATH or --db postgresql://USER@HOST/DB")
        if "://" not in text:
            return URL.create("sqlite", database=str(Path(text).expanduser().resolve()))
        if text.startswith("postgres://"):
            text = "postgresql://" + text[len("postgres://"):]
        try:
            parsed = make_url(text)
        except Exception:  # noqa: BLE001 - sqlalchemy raises ArgumentError with a long text
            raise UsageError(f"cannot parse the database URL {redact(text)!r}",
                             "use a file path, sqlite:///PATH or postgresql://USER@HOST:PORT/DB") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "postgresql":
        if driver not in ("", "psycopg"):
            raise UsageError(f"database driver {parsed.drivername!r} is not supported",
                             "use postgresql:// (psycopg 3 is used)")
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise UsageError(f"database driver {parsed.drivername!r} is not supported", "use sqlite:///PATH")
        db = parsed.database
        if db and db != ":memory:" and not db.startswith("file:"):
            parsed = parsed.set(database=str(Path(db).expanduser().resolve()))
        return parsed.set(drivername="sqlite")
    raise UsageError(f"database {backend!r} is not supported", "use a SQLite file path or postgresql://...")


def redact(url: str | URL) -> str:
    """The URL with any password replaced by ``***`` (for logs, status and errors)."""
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except Exception:  # noqa: BLE001
        return "<unparsable URL>"
    return parsed.render_as_string(hide_password=True)


# ---------------------------------------------------------------------------- engines


def create_engine(url: str | os.PathLike[str] | URL, *, pool_size: int = 5, echo: bool = False,
                  **kwargs: Any) -> Engine:
    """An engine for ``url`` (see :func:`normalize_url`), set up for the servers' use.

    SQLite: the file is made private first (:func:`.sqlitefile.private_sqlite_file`: missing folders
    0700, the file 0600, looser modes tightened with a warning), and every connection runs with
    ``journal_mode=WAL``, ``foreign_keys=ON``, ``busy_timeout`` and ``synchronous=NORMAL``;
    the driver's own transaction handling is replaced by explicit ``BEGIN`` statements
    (``BEGIN IMMEDIATE`` for :func:`transaction`, plain ``BEGIN`` for reads).
    PostgreSQL: psycopg 3 with a small pool and ``pool_pre_ping``.
    Nothing is connected yet; the first connection happens on first use.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, echo=echo, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", pool_size)
    kwargs.setdefault("max_overflow", pool_size)
    kwargs.setdefault("connect_args", {"connect_timeout": 10})
    return sa.create_engine(parsed, echo=echo, **kwargs)


def _sqlite_engine(parsed: URL, *, echo: bool, **kwargs: Any) -> Engine:
    db = parsed.database
    memory = not db or db == ":memory:"
    if not memory and not db.startswith("file:"):
        from .sqlitefile import private_sqlite_file

        try:
            private_sqlite_file(Path(db))
        except IsADirectoryError:
            raise StorageError(f"the database {db} is a directory", "pass --db with a file path") from None
        except OSError as exc:
            raise StorageError(f"cannot create the database {db}: {exc.strerror or exc}",
                               "pass --db with a writable path") from None
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("check_same_thread", False)
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
    if memory:
        kwargs.setdefault("poolclass", sa.pool.StaticPool)
    engine = sa.create_engine(parsed, echo=echo, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _on_begin)
        cur = dbapi_conn.cursor()
        try:
            if not memory:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA synchronous=NORMAL")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE, True)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


# ---------------------------------------------------------------------------- transactions


@contextlib.contextmanager
def transaction(engine: Engine, *, write: bool = True) -> Iterator[Connection]:
    """One transaction: committed when the block ends, rolled back if it raises.

    ``write=False`` marks a read-only block (on SQLite it does not take the write lock).
    """
    with engine.connect() as conn:
        conn.execution_options(**{_WRITE: write})
        with conn.begin():
            yield conn


def _where(table: sa.Table, where: Mapping[str, Any] | Any) -> Any:
    if isinstance(where, Mapping):
        return sa.and_(*(table.c[name] == value for name, value in where.items()))
    return where


def lock(conn: Connection, table: sa.Table, where: Mapping[str, Any] | Any,
         also: Sequence[Any] = ()) -> dict[str, Any] | None:
    """The row of ``table`` matching ``where``, held until the transaction ends; ``None`` when
    there is none.

    ``where`` is a mapping of column name to value (ANDed) or a SQLAlchemy clause, matching at
    most one row. PostgreSQL: ``SELECT ... FOR UPDATE``, so another transaction locking the same
    row waits here until this one commits, then reads what it wrote. SQLite: a write transaction
    (``BEGIN IMMEDIATE``) already excludes every other writer, so a plain read is enough. Only
    in a write transaction: a read transaction (``write=False``) holds no lock on SQLite, so
    calling this there is a programming error (``RuntimeError``).

    ``also``: labelled columns (e.g. scalar subqueries) read in the same statement, so what the
    transaction needs next costs no second round trip; only ``table``'s row is locked. On
    PostgreSQL a statement that waited for the lock sees the row as the other transaction left
    it but ``also`` as of its own start (read committed): there, read in a statement of its own
    whatever that other transaction may have changed.
    """
    if not conn.get_execution_options().get(_WRITE, True):
        raise RuntimeError("storage.lock needs a write transaction (transaction(engine, write=True))")
    query = sa.select(table, *also).where(_where(table, where))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(of=table)
    row = conn.execute(query).mappings().first()
    return dict(row) if row is not None else None


def _insert(conn: Connection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def insert_ignore(conn: Connection, table: sa.Table, values: Mapping[str, Any],
                  keys: Sequence[str] | None = None) -> bool:
    """Insert ``values`` unless a row with the same ``keys`` (default: any unique key) exists;
    True when a row was inserted. One statement (``ON CONFLICT DO NOTHING``): two writers racing
    to insert the same row both succeed and exactly one row results."""
    stmt = _insert(conn, table).values(**values)
    stmt = stmt.on_conflict_do_nothing(index_elements=list(keys)) if keys else stmt.on_conflict_do_nothing()
    # RETURNING, not rowcount: psycopg reports no row count for INSERT ... ON CONFLICT here
    return conn.execute(stmt.returning(sa.literal(1))).first() is not None


def upsert(conn: Connection, table: sa.Table, values: Mapping[str, Any], keys: Sequence[str],
           update: Mapping[str, Any] | None = None) -> None:
    """Insert ``values``, or when a row with the same ``keys`` exists, set ``update`` on it
    (default: every non-key column of ``values``). ``update`` values may be expressions over
    the existing row, e.g. ``{"count": table.c.count + 1}``. One statement (``ON CONFLICT DO
    UPDATE``) on both dialects."""
    changes = dict(update) if update is not None else {k: v for k, v in values.items() if k not in keys}
    stmt = _insert(conn, table).values(**values)
    if changes:
        stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=changes)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    conn.execute(stmt)


def is_transient(exc: BaseException) -> bool:
    """True for errors a fresh attempt may not hit: SQLite busy/locked (past the busy timeout),
    PostgreSQL serialization failures and deadlocks, a connection that was dropped. Nothing
    here retries; the request layer answers these UNAVAILABLE so the client may."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    orig = getattr(exc, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "diag", None), "sqlstate", None)
    if sqlstate in ("40001", "40P01"):
        return True
    if isinstance(exc, sa.exc.OperationalError):
        text = str(orig or exc).lower()
        return "database is locked" in text or "database is busy" in text
    return False


# ---------------------------------------------------------------------------- migrations


@dataclass(frozen=True)
class Migrations:
    """Where a server's migrations live and which table records their state."""

    directory: Path
    version_table: str

    @classmethod
    def of(cls, package: str, version_table: str | None = None) -> "Migrations":
        """``package`` is an importable package (e.g. ``"aster_registry.server.migrations"``)
        holding ``versions/*.py``; the version table defaults to
        ``alembic_version_<family>`` for ``aster_<family>.…`` packages (``alembic_version_registry``,
        ``alembic_version_authority``), else the dotted name with ``_``."""
        module = import_module(package)
        directory = Path(next(iter(module.__path__)))
        if not (directory / "versions").is_dir():
            raise StorageError(f"{package} has no versions/ folder", "ship the migration files with the package")
        first = package.split(".")[0]
        suffix = first.removeprefix("aster_") if first.startswith("aster_") else package.replace(".", "_")
        table = version_table or f"alembic_version_{suffix}"
        return cls(directory, table)


def _migrations(migrations: "Migrations | str") -> Migrations:
    return migrations if isinstance(migrations, Migrations) else Migrations.of(migrations)


def _script(m: Migrations) -> Any:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(m.directory), version_locations=[str(m.directory / "versions")])


def _lock_key(version_table: str) -> int:
    return int.from_bytes(hashlib.blake2b(version_table.encode(), digest_size=8).digest(), "big", signed=True)


def _as_engine(engine_or_url: Engine | str | URL) -> tuple[Engine, bool]:
    if isinstance(engine_or_url, Engine):
        return engine_or_url, False
    return create_engine(engine_or_url), True


def upgrade(engine_or_url: Engine | str | URL, migrations_package: "str | Migrations",
            revision: str = "head") -> str | None:
    """Bring the schema to ``revision`` (default: the newest) and return the revision now current.

    Runs in one transaction; on PostgreSQL an advisory lock keyed on the version table makes
    replicas starting together take turns (the second finds nothing to do). No alembic.ini
    and no env.py are needed.
    """
    from alembic.config import Config
    from alembic.runtime.environment import EnvironmentContext

    m = _migrations(migrations_package)
    engine, owned = _as_engine(engine_or_url)
    script = _script(m)
    config = Config()
    config.set_main_option("script_location", str(m.directory))

    def _upgrade_fn(rev: Any, _context: Any) -> Any:
        return script._upgrade_revs(revision, rev)

    try:
        with transaction(engine) as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(m.version_table)})
            env = EnvironmentContext(config, script, fn=_upgrade_fn, destination_rev=revision)
            env.configure(connection=conn, version_table=m.version_table, transactional_ddl=True,
                          render_as_batch=conn.dialect.name == "sqlite")
            env.run_migrations()
        return current_revision(engine, m)
    except sa.exc.DBAPIError as exc:
        raise StorageError(f"cannot migrate {redact(engine.url)}: {_short(exc)}",
                           "check that the database is reachable and writable") from None
    finally:
        if owned:
            engine.dispose()


def current_revision(engine: Engine, migrations_package: "str | Migrations") -> str | None:
    """The revision recorded in the server's version table (``None``: never migrated)."""
    m = _migrations(migrations_package)
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(m.version_table):
            return None
        row = conn.execute(sa.text(f'SELECT version_num FROM "{m.version_table}"')).first()
        return row[0] if row else None


def head_revision(migrations_package: "str | Migrations") -> str | None:
    """The newest revision the package ships."""
    return _script(_migrations(migrations_package)).get_current_head()


def _short(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


def open_database(url: str | os.PathLike[str] | URL, migrations_package: "str | Migrations", **kwargs: Any) -> Engine:
    """:func:`create_engine` plus :func:`upgrade`: what a server does at start-up.

    A database that cannot be reached raises :class:`StorageError` with the URL redacted.
    """
    engine = create_engine(url, **kwargs)
    try:
        upgrade(engine, migrations_package)
    except BaseException:
        engine.dispose()
        raise
    return engine


def describe(engine: Engine) -> dict[str, Any]:
    """Health information: dialect, redacted URL, whether a trivial query answers."""
    info: dict[str, Any] = {"dialect": engine.dialect.name, "url": redact(engine.url)}
    started = time.monotonic()
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        info["reachable"] = True
    except sa.exc.DBAPIError as exc:
        info["reachable"] = False
        info["error"] = _short(exc)
    info["latency_ms"] = round((time.monotonic() - started) * 1000, 2)
    return info
