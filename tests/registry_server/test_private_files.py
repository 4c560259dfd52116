"""``aster registry serve`` keeps its secrets private: registry.db (the key that signs producer
tokens) with its -wal and -shm files 0600, the node key 0600, every folder it creates 0700; a
database an older version left 0644 is set to 0600 at the next start with one warning line.
SQLite only: a PostgreSQL database has no file here. Modes are read with os.stat (the suite
may run as root, who can read anything)."""

from __future__ import annotations

import os
import stat

from tests.support.aio import run
from tests.support.registry import start_registry

from .support import Key, RegistryClient
from .test_protocol import verified


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_registry_database_and_node_key_are_private(smtp, tmp_path):
    home = tmp_path / "home"
    db = tmp_path / "var" / "lib" / "registry" / "registry.db"
    old = os.umask(0o022)  # the server inherits it: files 0644 and folders 0755 unless it says otherwise
    try:
        with start_registry(str(db), home=home, smtp=smtp) as registry:
            async def body():
                async with RegistryClient(registry.address) as c:
                    await verified(c, smtp, Key(), "alice")

            run(body(), timeout=60)
            names = [p.name for p in db.parent.iterdir()]
            assert {"registry.db", "registry.db-wal", "registry.db-shm"} <= set(names), names
            for name in names:
                assert _mode(db.parent / name) == 0o600, name
            for folder in (tmp_path / "var", tmp_path / "var" / "lib", db.parent):
                assert _mode(folder) == 0o700, folder
            key = home / "servers" / "registry" / "node.key"
            assert _mode(key) == 0o600
            assert _mode(home / "servers") == 0o700 and _mode(home / "servers" / "registry") == 0o700
    finally:
        os.umask(old)
    assert "had mode" not in registry.log()

    os.chmod(db, 0o644)  # as the previous version left it
    with start_registry(str(db), home=home, smtp=smtp) as again:
        assert _mode(db) == 0o600
    warnings = [line for line in again.log().splitlines() if "readable by others" in line]
    assert len(warnings) == 1 and "WARNING" in warnings[0] and "0644" in warnings[0], warnings
