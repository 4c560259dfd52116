"""Pytest fixtures around the harness server, registered for every test by ``pytest_plugins``
in tests/conftest.py (no import needed).

Fixtures:
- ``open_server`` (module scope): EchoService v1 + CounterSession + Greeter v2,
  open gate. ``open_server.address`` is what a client dials.
- ``root_key`` (function scope): a fresh ``RootKey`` in tmp_path (runtime-generated).
- ``trusted_server``: factory ``trusted_server(root_pubkey_file, services=("echo", "vault"),
  **kwargs) -> RunningServer``; every server it made is stopped after the test.
- ``server_factory``: factory ``server_factory(services, **start_server_kwargs)``, same
  clean-up, for anything else (manifest checks, kill mid-call, ...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests.support.credentials import RootKey, make_root_key
from tests.support.server import RunningServer, start_server

__all__ = ["open_server", "root_key", "trusted_server", "server_factory"]


@pytest.fixture(scope="module")
def open_server() -> Iterator[RunningServer]:
    with start_server(("echo", "session", "v2")) as server:
        yield server


@pytest.fixture
def root_key(tmp_path: Path) -> RootKey:
    return make_root_key(tmp_path)


@pytest.fixture
def server_factory() -> Iterator[Callable[..., RunningServer]]:
    started: list[RunningServer] = []

    def _start(services: Any = ("echo",), **kwargs: Any) -> RunningServer:
        server = start_server(services, **kwargs)
        started.append(server)
        return server

    try:
        yield _start
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def trusted_server(server_factory: Callable[..., RunningServer]) -> Callable[..., RunningServer]:
    def _start(root_pubkey_file: Any, services: Any = ("echo", "vault"), **kwargs: Any) -> RunningServer:
        return server_factory(services, root_pubkey_file=root_pubkey_file, **kwargs)

    return _start
