"""aster_server.lifecycle: a real AsterServer started, logged, stopped and restarted with one key."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.aio import run, with_client

ROOT = Path(__file__).resolve().parents[2]


def _start(state: Path, *extra: str) -> tuple[subprocess.Popen, dict]:
    env = {**os.environ, "ASTER_RELAY_MODE": "disabled", "PYTHONPATH": str(ROOT), "ASTER_LOG_LEVEL": "warning"}
    proc = subprocess.Popen([sys.executable, "-m", "tests.server.lifecycle_app", "--state", str(state), *extra],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            cwd=ROOT)
    line = proc.stdout.readline().decode()
    if not line:
        proc.kill()
        raise AssertionError(proc.stderr.read().decode())
    return proc, json.loads(line)


def _stop(proc: subprocess.Popen) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode, err.decode()


def test_ready_line_request_log_graceful_stop_and_stable_key(tmp_path):
    state = tmp_path / "state"
    proc, ready = _start(state, "--bind", "127.0.0.1")
    try:
        assert ready["event"] == "ready" and ready["server"] == "demo" and ready["key_created"] is True
        assert ready["address"].startswith("aster1") and len(ready["endpoint_id"]) == 64
        assert [s["name"] for s in ready["services"]] == ["EchoService"]
        assert oct((state / "node.key").stat().st_mode & 0o777) == "0o600"
        reply = run(with_client(ready["address"], lambda c: c.proxy("EchoService").echo({"text": "hi"})))
        assert reply["joined"] == "hi"
        with pytest.raises(Exception):
            run(with_client(ready["address"], lambda c: c.proxy("EchoService").fail({"code": 5, "message": "nope"})))
        proc.send_signal(signal.SIGUSR1)  # health on demand, as one log line
        time.sleep(1.0)
    finally:
        code, err = _stop(proc)
    assert code == 0, err
    assert "aster demo serving 1 services at aster1" in err
    assert "EchoService.echo peer=" in err and " OK " in err
    assert "EchoService.fail peer=" in err and "NOT_FOUND" in err
    assert 'health {"server": "demo"' in err and '"ok": true' in err and '"uptime_s"' in err
    assert "on_stop ran" in err and "stopped" in err and "Traceback" not in err

    proc, again = _start(state, "--bind", "127.0.0.1")
    try:
        assert again["endpoint_id"] == ready["endpoint_id"] and again["key_created"] is False
    finally:
        assert _stop(proc)[0] == 0


def test_identity_file_forms(tmp_path):
    from aster_core.errors import UsageError
    from aster_server.nodekey import load_node_key

    key, path, created = load_node_key(tmp_path / "id.toml", tmp_path / "unused")
    assert created and len(key) == 32 and not (tmp_path / "unused").exists()
    assert load_node_key(path, tmp_path)[0] == key
    import base64
    (tmp_path / "bare").write_text(base64.b64encode(key).decode() + "\n")
    (tmp_path / "j.json").write_text(json.dumps({"secret_key": base64.b64encode(key).decode()}))
    (tmp_path / "ident").write_text(f'[node]\nsecret_key = "{base64.b64encode(key).decode()}"\n[[peers]]\nrole = "producer"\n')
    for name in ("bare", "j.json", "ident"):
        assert load_node_key(tmp_path / name, tmp_path)[0] == key
    for bad in ("not base64 !!", "[node]\nsecret_key = 'c2hvcnQ='\n", "{}"):
        (tmp_path / "bad").write_text(bad)
        with pytest.raises(UsageError):
            load_node_key(tmp_path / "bad", tmp_path)


def test_bad_identity_is_one_error_line(tmp_path):
    (tmp_path / "id").write_text("garbage")
    env = {**os.environ, "ASTER_RELAY_MODE": "disabled", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "tests.server.lifecycle_app", "--state", str(tmp_path),
                             "--identity", str(tmp_path / "id")], capture_output=True, text=True, env=env,
                            timeout=60, cwd=ROOT)
    assert result.returncode == 2 and result.stderr.startswith("Error: ") and "Traceback" not in result.stderr


def test_parse_bind():
    from aster_core.errors import UsageError
    from aster_server.lifecycle import parse_bind

    assert parse_bind(["127.0.0.1", "10.0.0.1:0", "[::1]"]) == ["127.0.0.1", "10.0.0.1", "[::1]"]
    with pytest.raises(UsageError):
        parse_bind(["127.0.0.1:9000"])


def test_worker_count(monkeypatch):
    from aster_core.errors import UsageError
    from aster_server.lifecycle import ServerSpec, worker_count

    spec = ServerSpec(name="w", services=[], node_key=b"\0" * 32, workers=2)
    monkeypatch.delenv("ASTER_SERVER_WORKERS", raising=False)
    assert worker_count(spec) == 2
    assert worker_count(ServerSpec(name="w", services=[], node_key=b"\0" * 32)) is None  # the loop's default pool
    monkeypatch.setenv("ASTER_SERVER_WORKERS", "3")
    assert worker_count(spec) == 3
    for bad in ("0", "many", "-1"):
        monkeypatch.setenv("ASTER_SERVER_WORKERS", bad)
        with pytest.raises(UsageError, match="ASTER_SERVER_WORKERS"):
            worker_count(spec)
