"""`dev.py` on bad ground: an old Python, no package index, a stale or half-made .venv.

Each case gets one `Error: ... Hint: ...` line, a non-zero exit and no traceback. The script
runs from a copy of its own files in a temporary folder, so the checkout's .venv is untouched.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest

import dev

from .conftest import copy_venv

DEV = Path(dev.__file__).resolve()


def copy_of_dev(tmp_path: Path) -> Path:
    where = tmp_path / "checkout"
    where.mkdir()
    shutil.copy2(DEV, where / "dev.py")
    shutil.copytree(dev.REQUIREMENTS, where / "requirements")
    return where


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens there


def offline_env() -> dict[str, str]:
    """No index but one nobody answers at, and none of the machine's wheel folders or mirrors."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k != "VIRTUAL_ENV"}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL=f"http://127.0.0.1:{closed_port()}/simple")
    return env


def run_dev(checkout: Path, *args: str, env: dict | None = None, python: str = sys.executable,
            timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([python, str(checkout / "dev.py"), *args], cwd=checkout, env=env or offline_env(),
                          capture_output=True, text=True, timeout=timeout)


def assert_one_error_line(result: subprocess.CompletedProcess, code: int, *phrases: str) -> str:
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert result.returncode == code, (result.returncode, result.stderr)
    assert len(errors) == 1 and " Hint: " in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    for phrase in phrases:
        assert phrase in errors[0], errors[0]
    return errors[0]


def test_python_older_than_3_11_is_refused_before_anything_is_made(tmp_path):
    checkout = copy_of_dev(tmp_path)
    pretend = ("import runpy, sys; sys.version_info = (3, 10, 12, 'final', 0); sys.argv = [sys.argv[1], 'test'];"
               "runpy.run_path(sys.argv[0], run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", pretend, str(checkout / "dev.py")], cwd=checkout,
                            capture_output=True, text=True, timeout=60)
    assert_one_error_line(result, 2, "Python 3.11 or newer is needed (this is 3.10.12)")
    assert not (checkout / ".venv").exists()


def test_no_package_index_fails_fast_in_one_line(tmp_path):
    checkout = copy_of_dev(tmp_path)
    started = time.monotonic()
    result = run_dev(checkout, "demo")
    line = assert_one_error_line(result, 1, "the package index at http://127.0.0.1:", "cannot be reached")
    assert "PIP_NO_INDEX" in line
    assert time.monotonic() - started < 90  # no minutes of pip retries


def test_a_half_made_venv_is_rebuilt(tmp_path):
    """A set-up stopped while the venv was being made (no pip in it yet) is repaired by the next run."""
    checkout = copy_of_dev(tmp_path)
    venv.EnvBuilder(with_pip=False).create(checkout / ".venv")
    result = run_dev(checkout, "setup")
    assert "set-up that did not finish" in result.stderr and "rebuilding it" in result.stderr
    # rebuilt with pip, then stopped at the (unreachable) index: the next online run finishes it
    assert dev.venv_problem(checkout / ".venv") is None
    assert_one_error_line(result, 1, "cannot be reached")
    assert not (checkout / ".venv" / dev.STAMP.name).exists()


@pytest.mark.parametrize("how", ["interpreter gone", "moved"])
def test_a_stale_venv_is_named_and_kept(tmp_path, how, empty_venv):
    checkout = copy_of_dev(tmp_path)
    made = checkout / ".venv"
    if how == "moved":
        made = tmp_path / "elsewhere" / ".venv"
    copy_venv(empty_venv, made)  # a venv with pip made there (scripts naming that folder)
    (made / dev.STAMP.name).write_text("{}\n")  # a set-up that finished, long ago
    if how == "moved":
        shutil.move(str(made), checkout / ".venv")
    else:
        python = checkout / ".venv" / "bin" / "python"
        for link in python.parent.glob("python*"):
            link.unlink()
        python.symlink_to(tmp_path / "no-such-python")
    result = run_dev(checkout, "test")
    assert_one_error_line(result, 2, ".venv is stale", "--fresh")
    assert (checkout / ".venv" / dev.STAMP.name).exists()  # nothing removed without being asked


def test_unknown_action_prints_usage_and_exits_2(tmp_path):
    result = run_dev(copy_of_dev(tmp_path), "deploy")
    assert result.returncode == 2 and "python3 dev.py demo" in result.stdout


@pytest.mark.parametrize("given, expected", [
    ([], ["-n", str(dev.TEST_WORKERS), "--dist", "loadgroup", "tests"]),
    (["tests/core", "-x"], ["-n", str(dev.TEST_WORKERS), "--dist", "loadgroup", "tests/core", "-x"]),
    (["-n", "2", "tests/core"], ["-n", "2", "tests/core"]),
    (["-n2"], ["-n2"]),
    (["--dist", "loadfile"], ["--dist", "loadfile"]),
    (["-p", "no:xdist", "tests/core"], ["-p", "no:xdist", "tests/core"]),
])
def test_the_suite_runs_on_xdist_workers_unless_the_caller_chose(given, expected, monkeypatch):
    monkeypatch.delenv("ASTER_TEST_WORKERS", raising=False)
    assert dev.pytest_args(given) == expected
    monkeypatch.setenv("ASTER_TEST_WORKERS", "3")
    assert dev.pytest_args([])[:2] == ["-n", "3"]
