"""A throwaway PostgreSQL cluster on 127.0.0.1 for tests (Debian's postgresql 15 binaries).

Its fixtures are registered for every test by ``pytest_plugins`` in tests/conftest.py::

    def test_x(pg_url):           # a fresh, empty database on the session's cluster
        engine = create_engine(pg_url)

    def test_y(database_url):     # runs twice: a SQLite file, then a fresh PostgreSQL database
        ...

The cluster is one per pytest process (session scope), so one per pytest-xdist worker, each
on a port of its own: ``initdb`` into a temp directory owned by the ``postgres`` user
(PostgreSQL refuses to run as root, so the binaries run through ``runuser -u postgres`` when
the tests run as root), started with ``pg_ctl`` on a free loopback port (one another worker
took in between is retried) with durability switched off (tests never survive a host crash), trust
authentication for 127.0.0.1 only, and stopped (``pg_ctl stop -m fast``) and deleted at the
end of the session, or by an atexit hook as a last resort.

When the binaries are missing the fixtures **fail** (they do not skip): CI installs them
(``dev.py`` runs ``apt-get install postgresql``). Set ``ASTER_TEST_PG_BIN`` to use binaries
elsewhere.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

PG_BIN = Path(os.environ.get("ASTER_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
_counter = itertools.count(1)


class PostgresUnavailable(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(argv: list[str]) -> list[str]:
    """Run as the ``postgres`` user when we are root (PostgreSQL refuses root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


@dataclass
class PgCluster:
    """A running cluster. ``url(db)`` is a ``postgresql://`` URL; ``create_database()`` makes
    a fresh empty database and returns its URL."""

    datadir: Path
    port: int
    base: Path
    _stopped: bool = False

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [str(PG_BIN / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
             "-p", str(self.port), "-U", "postgres", "-d", database, "-c", sql],
            capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def create_database(self, prefix: str = "t") -> str:
        name = f"{prefix}_{os.getpid()}_{next(_counter)}"
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        try:
            self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except (RuntimeError, subprocess.TimeoutExpired):
            pass

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w",
                                     "-t", "30", "stop"]),
                       capture_output=True, timeout=60)
        shutil.rmtree(self.base, ignore_errors=True)


def start_cluster(timeout: float = 60.0, shared_buffers: str = "32MB") -> PgCluster:
    """initdb + pg_ctl start on a free loopback port. Raises PostgresUnavailable.

    ``shared_buffers``: small for test sessions; benchmarks pass PostgreSQL's own default (128MB)
    so a 100,000-row table is served from the buffer cache as on a real server."""
    initdb = PG_BIN / "initdb"
    if not initdb.exists():
        raise PostgresUnavailable(f"{initdb} not found: install Debian's postgresql package "
                                  "(apt-get install -y postgresql) or set ASTER_TEST_PG_BIN")
    base = Path(tempfile.mkdtemp(prefix="aster-pg-"))
    os.chmod(base, 0o755)
    datadir = base / "data"
    sockets = base / "sock"
    sockets.mkdir()
    datadir.mkdir(mode=0o700)
    if os.geteuid() == 0:
        shutil.chown(datadir, "postgres", "postgres")
        shutil.chown(sockets, "postgres", "postgres")
        logfile = base / "server.log"
        logfile.touch()
        shutil.chown(logfile, "postgres", "postgres")
    else:
        logfile = base / "server.log"
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    result = subprocess.run(_as_postgres([str(initdb), "-D", str(datadir), "-U", "postgres", "-A", "trust",
                                          "-E", "UTF8", "--no-sync", "--no-instructions"]),
                            capture_output=True, text=True, env=env, timeout=timeout, cwd=base)
    if result.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise PostgresUnavailable(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")
    with open(datadir / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write("\n# aster tests: speed over durability, loopback only\n"
                   "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                   f"max_connections = 200\nshared_buffers = {shared_buffers}\n")
    if os.geteuid() == 0:
        shutil.chown(datadir / "postgresql.conf", "postgres", "postgres")
    for attempt in range(3):
        port = _free_port()
        opts = f"-h 127.0.0.1 -p {port} -k {sockets}"
        result = subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(datadir), "-o", opts,
                                              "-l", str(logfile), "-w", "-t", str(int(timeout)), "start"]),
                                capture_output=True, text=True, env=env, timeout=timeout + 10, cwd=base)
        if result.returncode == 0:
            cluster = PgCluster(datadir=datadir, port=port, base=base)
            atexit.register(cluster.stop)
            deadline = time.monotonic() + timeout
            while True:
                try:
                    cluster.psql("SELECT 1")
                    return cluster
                except RuntimeError:
                    if time.monotonic() > deadline:
                        cluster.stop()
                        raise PostgresUnavailable("the cluster started but does not answer") from None
                    time.sleep(0.2)
    log = logfile.read_text(errors="replace")[-2000:] if logfile.exists() else ""
    shutil.rmtree(base, ignore_errors=True)
    raise PostgresUnavailable(f"pg_ctl start failed: {result.stderr.strip()}\n{log}")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One cluster for the test session; fails (never skips) without the binaries."""
    try:
        cluster = start_cluster()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> Iterator[str]:
    """A fresh empty database on the session cluster (``postgresql://...``), dropped after."""
    url = pg_cluster.create_database()
    try:
        yield url
    finally:
        pg_cluster.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using it runs on a fresh SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield str(tmp_path / "db" / "test.db")
        return
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    url = cluster.create_database()
    try:
        yield url
    finally:
        cluster.drop_database(url)
