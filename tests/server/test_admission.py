"""aster_server.admission: a burst of new connections to a server built by aster_server.lifecycle
loses none. The runtime's admission handler drops the connection right after writing its answer,
which closed it before the client read the answer ("read error: connection lost": 31-48 of 50
simultaneous connects lost against a bare AsterServer here, docs/runtime-notes.md)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.support.aio import run
from tests.support.process import start_process

ROOT = Path(__file__).resolve().parents[2]
BURST = 50


async def _burst(address: str, n: int) -> list[str]:
    from aster import AsterClient

    async def one() -> str | None:
        client = AsterClient(address=address)
        try:
            await asyncio.wait_for(client.connect(), 60)
            return None
        except Exception as exc:  # noqa: BLE001 - counted and shown
            return f"{type(exc).__name__}: {exc}"
        finally:
            try:
                await asyncio.wait_for(client.close(), 10)
            except Exception:  # noqa: BLE001 - closing is not what is tested
                pass

    return [r for r in await asyncio.gather(*(one() for _ in range(n))) if r]


@pytest.mark.slow
def test_a_burst_of_new_connections_loses_none(tmp_path):
    env = {**os.environ, "ASTER_RELAY_MODE": "disabled", "PYTHONPATH": str(ROOT), "ASTER_LOG_LEVEL": "error"}
    server = start_process([sys.executable, "-m", "tests.server.lifecycle_app", "--state", str(tmp_path)],
                           log_path=tmp_path / "server.log", env=env, cwd=ROOT, timeout=60, what="the lifecycle app")
    try:
        for _ in range(2):  # the second burst meets connections the first left held
            lost = run(_burst(server.info["address"], BURST), timeout=180)
            assert lost == [], f"{len(lost)} of {BURST} lost: {lost[:3]}"
    finally:
        server.stop()


def test_installed_once():
    import aster.runtime as runtime

    from aster_server.admission import hold_admission_connections

    assert hold_admission_connections()
    wrapped = runtime.handle_consumer_admission_connection
    assert hold_admission_connections()
    assert runtime.handle_consumer_admission_connection is wrapped  # not wrapped twice
    assert getattr(wrapped, "holds_connection", False)
