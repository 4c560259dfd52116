"""Files a server makes that hold secrets are 0600 in 0700 folders: the SQLite database with its
-wal and -shm files, the node key, the state folder; one left readable by others is tightened
at start with one warning line. Modes are read with os.stat (the suite may run as root, who
can read anything). Also: JSON fields parsed by the request layer within the JSON limits."""

from __future__ import annotations

import logging
import os
import stat

import pytest
import sqlalchemy as sa

from aster_server import storage
from aster_server.nodekey import load_node_key
from aster_server.request import Refused, json_field


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def warned():
    """The warning lines of the aster_server loggers while the test runs."""
    handler = _Warnings()
    log = logging.getLogger("aster_server")
    log.addHandler(handler)
    yield handler.lines
    log.removeHandler(handler)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)  # what most systems give a service: files 0644, folders 0755 by default
    yield
    os.umask(old)


def _write(engine) -> None:
    with storage.transaction(engine) as conn:
        conn.execute(sa.text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1)"))


def test_a_new_database_and_its_folders_are_private(tmp_path, umask_022):
    db = tmp_path / "srv" / "state" / "registry.db"
    engine = storage.create_engine(str(db))
    try:
        _write(engine)
        with storage.transaction(engine, write=False) as conn:  # a reader keeps -wal and -shm in place
            conn.execute(sa.text("SELECT x FROM t")).all()
            for name in ("registry.db", "registry.db-wal", "registry.db-shm"):
                assert _mode(db.parent / name) == 0o600, name
    finally:
        engine.dispose()
    assert _mode(tmp_path / "srv") == 0o700 and _mode(tmp_path / "srv" / "state") == 0o700


def test_a_loose_database_is_tightened_at_start_with_one_warning(tmp_path, umask_022, warned):
    db = tmp_path / "old.db"
    engine = storage.create_engine(str(db))
    try:
        _write(engine)
        with storage.transaction(engine, write=False) as conn:
            conn.execute(sa.text("SELECT x FROM t")).all()
            for name in ("old.db", "old.db-wal", "old.db-shm"):
                os.chmod(tmp_path / name, 0o644)  # as an older version (or a restore) left them
            again = storage.create_engine(str(db))
            try:
                with storage.transaction(again, write=False) as other:
                    assert other.execute(sa.text("SELECT count(*) FROM t")).scalar_one() == 1
            finally:
                again.dispose()
            for name in ("old.db", "old.db-wal", "old.db-shm"):
                assert _mode(tmp_path / name) == 0o600, name
    finally:
        engine.dispose()
    assert len(warned) == 1, warned
    assert "old.db" in warned[0] and "0644" in warned[0] and "0600" in warned[0]
    storage.create_engine(str(db)).dispose()
    assert len(warned) == 1  # nothing loose, nothing said


def test_node_keys_are_private_and_a_loose_one_is_tightened(tmp_path, umask_022, warned):
    key, path, created = load_node_key(None, tmp_path / "servers" / "demo")
    assert created and _mode(path) == 0o600
    assert _mode(tmp_path / "servers") == 0o700 and _mode(tmp_path / "servers" / "demo") == 0o700
    os.chmod(path, 0o644)
    again, _, created = load_node_key(None, tmp_path / "servers" / "demo")
    assert again == key and not created and _mode(path) == 0o600
    assert len(warned) == 1 and "0644" in warned[0] and str(path) in warned[0]


def test_a_deep_json_identity_file_is_bad_input_not_a_traceback(tmp_path):
    from aster_core.errors import UsageError

    deep = tmp_path / "id.json"
    deep.write_text('{"secret_key": ' + "[" * 10_000 + "]" * 10_000 + "}")  # 20 KB, 10k levels
    with pytest.raises(UsageError) as info:
        load_node_key(deep, tmp_path)
    assert str(deep) in info.value.message and "nested" in info.value.message


def test_json_fields_are_parsed_within_the_limits_and_refused_naming_the_field():
    assert json_field('{"a": [1, 2]}', "payload_json", max_bytes=100) == {"a": [1, 2]}
    cases = [("[" * 100_000 + "]" * 100_000, "nested"), ("{", "not valid JSON"), ("[" + "1," * 100 + "1]", "larger"),
             ("1" * 5000, "not valid JSON here")]
    for text, needle in cases:
        with pytest.raises(Refused) as info:
            json_field(text, "manifest_json", max_bytes=150 if needle == "larger" else 10**6)
        refused = info.value
        assert refused.status.name == "INVALID_ARGUMENT" and refused.field == "manifest_json", refused
        assert needle in refused.message and refused.text.startswith("manifest_json ")
    with pytest.raises(Refused, match="more than 3"):
        json_field("[[[[1]]]]", "x", max_bytes=100, max_depth=3)
