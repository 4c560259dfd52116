"""Fixtures for the connect family: one real AsterServer per module, on loopback."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Iterator

import aster  # noqa: F401  (before any event loop: see aster_connect.client.run)
import pytest

from tests.support.fixtures import *  # noqa: F401,F403
from tests.support.server import RunningServer, start_server

#: Every pattern (EchoService v1), a second version of it, a session-scoped
#: service and a service that exists only as version 2.
ALL_SERVICES = ("echo", "echo2", "session", "v2")


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with start_server(ALL_SERVICES) as srv:
        yield srv


def parse_json_lines(text: str) -> list:
    """Every stdout line must be a JSON document (what --json promises)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def assert_clean_error(proc: subprocess.CompletedProcess, code: int, *needles: str) -> None:
    """One `Error:` line with a hint, the documented exit code, no traceback, nothing on stdout."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, proc.stderr
    assert "Hint:" in errors[0], errors[0]
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])


@pytest.fixture
def trust_root(tmp_path: Path) -> Path:
    """A root key pair made by the trust family (`aster trust keygen root`)."""
    from aster_core.testing import run_aster

    key = tmp_path / "root.key"
    proc = run_aster(["trust", "keygen", "root", "--out", str(key)])
    assert proc.returncode == 0, proc.stderr
    return key
