"""`aster local init` -> `up` (a subprocess: signals and children are the point) -> `status`
-> Ctrl-C stops both servers; one server dying stops the other. Real servers on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import tomllib
from pathlib import Path

import pytest

from aster_core.testing import aster_executable, assert_clean_error, invoke, run_aster

UP_TIMEOUT = 90


class Up:
    """`aster local up` running; its combined log collected line by line."""

    def __init__(self, mesh: Path, cwd: Path):
        self.proc = subprocess.Popen([aster_executable(), "local", "up", "--dir", str(mesh), "--max-lifetime", "240"],
                                     cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=dict(os.environ, PYTHONUNBUFFERED="1"))
        self.lines: list[str] = []
        self.ready = self._wait_ready()

    def _wait_ready(self) -> dict:
        deadline = time.monotonic() + UP_TIMEOUT
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line.rstrip("\n"))
            if line.startswith("[local] ready "):
                return json.loads(line[len("[local] ready "):])
        self.proc.kill()
        raise AssertionError("no ready line:\n" + "\n".join(self.lines) + self.proc.stderr.read())

    def finish(self, timeout: float = 40) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        self.lines += out.splitlines()
        return self.proc.returncode, "\n".join(self.lines), err


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie of a child reaped late still answers kill(0); read its state
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _gone(*pids: int, within: float = 20) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        if not any(_alive(p) for p in pids):
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def mesh(tmp_path, aster_env) -> Path:
    out = invoke(["local", "init", "--out", str(tmp_path / "mesh"), "--json"], cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    made = json.loads(out.stdout)
    assert made["profile"] == {"name": "local", "root_pubkey": made["profile"]["root_pubkey"], "created": True,
                               "key": "keyring"}
    return Path(made["dir"])


@pytest.mark.slow
def test_init_up_status_then_ctrl_c_stops_both(mesh, tmp_path, aster_env):
    config = tomllib.loads((aster_env / "config.toml").read_text())
    assert config["active_profile"] == "local" and config["local"]["dir"] == str(mesh)
    assert config["authority"] == {"credential": str(mesh / "admin.identity")}  # no address before `up`
    inspected = json.loads(run_aster(["trust", "inspect", str(mesh / "admin.identity"), "--json"]).stdout)
    assert inspected["roles"] == ["authority.admin"] and inspected["endpoint_id"]  # a BOUND admin credential
    for folder in (mesh, mesh / "authority", mesh / "registry"):
        assert oct(folder.stat().st_mode & 0o777) == "0o700"

    status = json.loads(run_aster(["local", "status", "--json"], cwd=tmp_path).stdout)
    assert [s["answers"] for s in status["servers"].values()] == [False, False]

    up = Up(mesh, tmp_path)
    try:
        pids = (up.ready["authority"]["pid"], up.ready["registry"]["pid"])
        config = tomllib.loads((aster_env / "config.toml").read_text())
        assert config["authority"]["address"] == up.ready["authority"]["address"]
        assert config["aster_service"] == {"node_id": up.ready["registry"]["address"], "enabled": True}
        assert any(l.startswith("[authority] ") for l in up.lines) and any(l.startswith("[registry] ") for l in up.lines)

        status = run_aster(["local", "status", "--json"], cwd=tmp_path, timeout=60)
        assert status.returncode == 0, status.stderr
        servers = json.loads(status.stdout)["servers"]
        assert servers["authority"]["answers"] is True and servers["authority"]["admin"] is True
        assert servers["registry"]["answers"] is True
        text = run_aster(["local", "status"], cwd=tmp_path, timeout=60).stdout
        assert "authority  answers (admin)" in text and "registry   answers" in text

        # the admin needs no flag and no variable: config.toml says where and who
        who = json.loads(run_aster(["authority", "whoami", "--json"], cwd=tmp_path, timeout=60).stdout)
        assert who["admitted"] is True and who["admin"] is True and who["endpoint_id"] == inspected["endpoint_id"]
        second = run_aster(["local", "up", "--dir", str(mesh)], cwd=tmp_path, timeout=60)
        assert_clean_error(second, 2, "already up", f"pid {up.proc.pid}")  # same node keys, same databases: no

        up.proc.send_signal(signal.SIGINT)  # what Ctrl-C at a terminal sends to the foreground process
        code, log, err = up.finish()
    finally:
        if up.proc.poll() is None:
            up.proc.kill()
    assert code == 0, (log, err)
    assert "[local] stopped authority and registry" in log
    assert _gone(*pids), "a server outlived `aster local up`"
    status = json.loads(run_aster(["local", "status", "--json"], cwd=tmp_path, timeout=60).stdout)
    assert [s["answers"] for s in status["servers"].values()] == [False, False]


@pytest.mark.slow
def test_one_server_dying_stops_the_other(mesh, tmp_path):
    up = Up(mesh, tmp_path)
    try:
        authority_pid = up.ready["authority"]["pid"]
        os.kill(up.ready["registry"]["pid"], signal.SIGKILL)
        code, log, err = up.finish()
    finally:
        if up.proc.poll() is None:
            up.proc.kill()
    assert code == 1, (log, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: the registry stopped by itself") and "Hint:" in lines[0]
    assert "Traceback" not in err + log
    assert _gone(authority_pid)


def test_init_refusals(tmp_path, aster_env, mesh):
    assert_clean_error(invoke(["local", "init", "--out", str(mesh)]), 2, "already holds a local mesh")
    assert_clean_error(invoke(["local", "init", "--out", str(tmp_path / "b"), "--root-key", "nope.key"],
                              cwd=tmp_path), 4, "nope.key")
    assert not (tmp_path / "b").exists()
    assert_clean_error(invoke(["local", "status", "--dir", str(tmp_path / "none")]), 4, "no local mesh", "local init")
    assert_clean_error(invoke(["local", "up", "--dir", str(tmp_path / "none")]), 4, "no local mesh")
    assert_clean_error(invoke(["config", "set", "local.dir", str(tmp_path)]), 4, "no local mesh")


def test_init_with_a_root_key_file_needs_no_keyring(tmp_path, aster_env):
    assert run_aster(["trust", "keygen", "root", "--out", "root.key"], cwd=tmp_path).returncode == 0
    no_keyring = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    assert_clean_error(invoke(["local", "init", "--out", "n"], cwd=tmp_path, env=no_keyring), 6)
    assert not (tmp_path / "n").exists()  # no keyring and no --root-key: refused before anything was made
    out = invoke(["local", "init", "--out", "m", "--root-key", "root.key", "--profile", "headless", "--json"],
                 cwd=tmp_path, env=no_keyring)
    assert out.returncode == 0, out.stderr
    made = json.loads(out.stdout)
    pub = json.loads((tmp_path / "root.key").read_text())["public_key"]
    assert made["profile"]["root_pubkey"] == pub and made["profile"]["key"].startswith("file ")
    assert (tmp_path / "m" / "root.pub").read_text().strip() == pub
    inspected = json.loads(run_aster(["trust", "inspect", str(tmp_path / "m" / "admin.identity"), "--json"]).stdout)
    assert inspected["root_pubkey"] == pub


def test_a_second_mesh_reuses_the_profile(tmp_path, aster_env, mesh):
    again = invoke(["local", "init", "--out", str(tmp_path / "second"), "--json"], cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    made = json.loads(again.stdout)
    first = tomllib.loads((mesh / "local.toml").read_text())
    assert made["profile"]["created"] is False and made["profile"]["root_pubkey"] == first["root_pubkey"]
    config = tomllib.loads((aster_env / "config.toml").read_text())
    assert config["local"]["dir"] == made["dir"]  # the newest mesh is the one `up` and `status` use
    assert run_aster(["trust", "keygen", "root", "--out", "other.key"], cwd=tmp_path).returncode == 0
    assert_clean_error(invoke(["local", "init", "--out", str(tmp_path / "third"), "--root-key", "other.key"],
                              cwd=tmp_path), 2, "exists already")
    assert not (tmp_path / "third").exists()  # refused before anything was made
