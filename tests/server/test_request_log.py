"""The request log writes one line per call however the call ends: an answer, a refusal, a
handler the runtime abandons at the deadline, offloaded work past the deadline, a deadline
passed before the call started, a connection closed mid-call. Over a real AsterServer on
loopback (tests/server/requestlog_app.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from pathlib import Path

import pytest

from aster import RpcError

from tests.support.aio import run
from tests.support.process import start_process

from .requestlog_app import Nap, NapService

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def naps(tmp_path_factory):
    state = tmp_path_factory.mktemp("naps")
    env = {**os.environ, "ASTER_RELAY_MODE": "disabled", "PYTHONPATH": str(ROOT), "ASTER_LOG_LEVEL": "warning"}
    log = state / "server.log"
    server = start_process([sys.executable, "-m", "tests.server.requestlog_app", "--state", str(state)],
                           log_path=log, env=env, cwd=ROOT, timeout=60, what="the request-log app")
    yield {"address": server.info["address"], "log": log}
    server.stop()
    assert "Traceback" not in log.read_text()


def _lines(naps, method: str) -> list[str]:
    return [line for line in naps["log"].read_text().splitlines() if f"NapService.{method} peer=" in line]


def _one_more_line(naps, method: str, before: int, timeout: float = 15.0) -> str:
    """The one line the last call of ``method`` wrote (waiting for it), checked to be the only one."""
    give_up = time.monotonic() + timeout
    while len(_lines(naps, method)) <= before:
        assert time.monotonic() < give_up, f"no request-log line for NapService.{method}:\n{naps['log'].read_text()}"
        time.sleep(0.05)
    time.sleep(0.3)  # a second line, if any were written, would be there by now
    lines = _lines(naps, method)
    assert len(lines) == before + 1, lines[before:]
    return lines[-1]


async def _connected(address: str):
    from aster import AsterClient

    client = AsterClient(address=address)
    await client.connect()
    return client, await client.client(NapService)


def _call(naps, method: str, nap: Nap, *, timeout: float | None = None) -> object:
    """The answer of one call on a connection of its own, or the error it raised."""

    async def body():
        client, stub = await _connected(naps["address"])
        try:
            return await getattr(stub, method)(nap, timeout=timeout)
        except (RpcError, asyncio.TimeoutError, TimeoutError) as exc:
            return exc
        finally:
            await client.close()

    return run(body(), timeout=30)


def test_an_answer_and_a_refusal_have_one_line_each(naps):
    before = len(_lines(naps, "nap"))
    assert _call(naps, "nap", Nap(seconds=0)).seconds == 0
    assert " OK " in _one_more_line(naps, "nap", before)
    before = len(_lines(naps, "refuse"))
    assert isinstance(_call(naps, "refuse", Nap(status="NOT_FOUND")), RpcError)
    line = _one_more_line(naps, "refuse", before)
    assert " NOT_FOUND " in line and "refused as asked" in line


def test_a_handler_abandoned_at_its_deadline_has_its_line(naps):
    before = len(_lines(naps, "nap"))
    began = time.monotonic()
    assert not isinstance(_call(naps, "nap", Nap(seconds=20), timeout=0.8), Nap)
    assert time.monotonic() - began < 10
    line = _one_more_line(naps, "nap", before)
    assert " DEADLINE_EXCEEDED " in line
    assert 700 <= float(line.split(" DEADLINE_EXCEEDED ")[1].split("ms")[0]) < 10_000


def test_offloaded_work_past_its_deadline_has_its_line(naps):
    before = len(_lines(naps, "work"))
    assert not isinstance(_call(naps, "work", Nap(seconds=3), timeout=0.8), Nap)
    assert " DEADLINE_EXCEEDED " in _one_more_line(naps, "work", before)


def test_a_call_whose_deadline_passed_before_it_started_has_its_line(naps):
    async def body():
        client, stub = await _connected(naps["address"])
        try:
            # the runtime's client never sends a deadline already past: write the call with its
            # transport, as a client on a slow link or with a skewed clock would send it
            await stub._transport.unary("NapService", "nap", Nap(seconds=0),
                                        deadline_epoch_ms=int((time.time() - 30) * 1000))
        except RpcError as exc:
            return exc
        finally:
            await client.close()

    before = len(_lines(naps, "nap"))
    refused = run(body(), timeout=30)
    assert isinstance(refused, RpcError) and refused.code.name == "DEADLINE_EXCEEDED"
    assert " DEADLINE_EXCEEDED " in _one_more_line(naps, "nap", before)


def test_a_call_whose_connection_closed_has_its_line(naps):
    async def body():
        client, stub = await _connected(naps["address"])
        pending = asyncio.ensure_future(stub.nap(Nap(seconds=60)))
        await asyncio.sleep(1.0)
        await client.close()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(pending, 5)

    before = len(_lines(naps, "nap"))
    run(body(), timeout=30)
    line = _one_more_line(naps, "nap", before)
    assert " CANCELLED " in line and "connection closed" in line
