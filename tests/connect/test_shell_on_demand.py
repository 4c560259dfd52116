"""`aster shell` reads a service's manifest only when it needs that service's methods.

Counted on the real manifest cache under the home: every manifest the shell
reads from the peer is stored there (``<contract id>.json``), and one served
from there is not read again. The producer is a real AsterServer offering many
generated services (``tests.support.scale``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from aster_core.testing import run_aster
from tests.connect.conftest import parse_json_lines
from tests.support.scale import specs
from tests.support.server import RunningServer, start_server

SERVICES = 30
LATE_NEVER = {"ASTER_HARNESS_MANIFEST_DELAY": "never"}


@pytest.fixture(scope="module")
def many() -> RunningServer:
    with start_server(specs(SERVICES)) as srv:
        yield srv


def shell(address: str, script: str, *args: str, env: dict[str, str] | None = None):
    return run_aster(["shell", address, *args], input=script, timeout=90, env=env)


def cached(home: Path) -> dict[str, Path]:
    folder = home / "cache" / "manifests"
    return {p.stem: p for p in folder.glob("*.json")} if folder.exists() else {}


def wait_for_files(home: Path, count: int) -> dict[str, Path]:
    """The cache is written off the critical path; give the writes a moment after the shell ends."""
    end = time.monotonic() + 5
    while len(found := cached(home)) < count and time.monotonic() < end:
        time.sleep(0.05)
    return found


def test_connect_and_ls_read_no_manifest(many, aster_env):
    proc = shell(many.address, "ls\n", "--json")
    assert proc.returncode == 0, proc.stderr
    (top,) = parse_json_lines(proc.stdout)
    assert sorted(e["name"] for e in top["entries"]) == sorted(f"Svc{i}" for i in range(SERVICES))
    assert {e["version"] for e in top["entries"]} == {1} and {e["methods"] for e in top["entries"]} == {None}
    time.sleep(0.5)
    assert cached(aster_env) == {}  # not one manifest read: names and versions come with admission


def test_cd_reads_that_service_only_and_the_cache_serves_it_next_time(many, aster_env):
    ids = many.contract_ids
    first = shell(many.address, "cd Svc3\nls\ncd ..\ncd Svc3\n./m0 text=a n=2\n", "--json")
    assert first.returncode == 0, first.stderr
    listed, answer = parse_json_lines(first.stdout)
    assert len(listed["entries"]) == 10 and answer["text"] == "aa"
    files = wait_for_files(aster_env, 1)
    assert set(files) == {ids["Svc3"]}, sorted(files)
    # Mark the cached copy: a shell that reads it from the cache lists 9 methods, the peer has 10.
    entry = files[ids["Svc3"]]
    manifest = json.loads(entry.read_text())
    manifest["methods"] = [m for m in manifest["methods"] if m["name"] != "m9"]
    entry.write_text(json.dumps(manifest))
    inode = entry.stat().st_ino

    second = shell(many.address, "ls Svc3\ncd /services/Svc7\nls\n", "--json")
    assert second.returncode == 0, second.stderr
    svc3, svc7 = parse_json_lines(second.stdout)
    assert len(svc3["entries"]) == 9 and len(svc7["entries"]) == 10
    files = wait_for_files(aster_env, 2)
    assert set(files) == {ids["Svc3"], ids["Svc7"]}
    assert files[ids["Svc3"]].stat().st_ino == inode  # served from the cache, not read and stored again


def test_a_missing_manifest_is_named_not_an_empty_service(aster_env):
    env = {"ASTER_MANIFEST_TIMEOUT": "3"}
    with start_server(["tests.support.late:Svc0", "tests.support.late:Svc1"], env=LATE_NEVER) as srv:
        proc = shell(srv.address, "ls\ncd Svc0\nls\ndescribe\n./m3 text=ab n=2\n", "--json", env=env)
    out = parse_json_lines(proc.stdout)
    assert "Traceback" not in proc.stderr
    top, error, described, answer = out
    assert {e["name"] for e in top["entries"]} == {"Svc0", "Svc1"}   # listing needs no manifest
    assert "Warning: no method schema for Svc0: its manifest is not in the peer's registry" in proc.stderr
    assert "the schema of Svc0 is unknown (its manifest is not in the peer's registry" in error["error"]["message"]
    assert described["methods"] is None and "not in the peer's registry" in described["schema_missing"]
    assert "unchecked" in proc.stderr and answer["text"] == "abab"  # the call goes out, as `aster call` does
    assert proc.returncode == 1


needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


@needs_tmux
def test_tab_completion_reads_only_the_service_it_completes(many, aster_env):
    from tests.connect.test_shell_tty import Tmux

    term = Tmux([_aster(), "shell", many.address], {**os.environ, "TERM": "xterm-256color"})
    try:
        term.wait_for("aster /services>")
        term.type("invoke Svc12.")
        term.keys("Tab")
        screen = term.wait_for("Svc12.m9")
        assert "Svc12.m0" in screen
        term.keys("C-c")
        term.wait_for_prompt("aster /services>")
        assert set(wait_for_files(aster_env, 1)) == {many.contract_ids["Svc12"]}
    finally:
        term.kill()


@needs_tmux
def test_tab_completion_names_a_missing_manifest(aster_env):
    from tests.connect.test_shell_tty import Tmux

    env = {**os.environ, "TERM": "xterm-256color", "ASTER_MANIFEST_TIMEOUT": "3"}
    with start_server(["tests.support.late:Svc0"], env=LATE_NEVER) as srv:
        term = Tmux([_aster(), "shell", srv.address], env)
        try:
            term.wait_for("aster /services>")
            term.type("cd Svc0")
            term.keys("Enter")
            term.wait_for("aster /services/Svc0>", timeout=30)
            term.type("./m")
            term.keys("Tab")
            screen = term.wait_for("the schema of Svc0 is unknown")
            assert "not in the peer's registry" in screen
        finally:
            term.kill()


def _aster() -> str:
    from aster_core.testing import aster_executable

    return aster_executable()
