"""Fixtures for the connect family: one real AsterServer per module, on loopback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import aster  # noqa: F401  (before any event loop: see aster_connect.client.run)
import pytest

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


@pytest.fixture
def trust_root(tmp_path: Path) -> Path:
    """A root key pair made by the trust family (`aster trust keygen root`)."""
    from aster_core.testing import run_aster

    key = tmp_path / "root.key"
    proc = run_aster(["trust", "keygen", "root", "--out", str(key)])
    assert proc.returncode == 0, proc.stderr
    return key
