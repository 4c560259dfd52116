"""A server that dies mid-call is noticed at once (issue 22, item 9).

Before, a killed server (no QUIC close) left `aster call` waiting for its whole --timeout and
then blaming it ("Raise --timeout"). Now the call ends within seconds: exit 7, one
`Error: [UNAVAILABLE] the peer closed the connection ...` line with a hint. A server that is
alive but slow is never taken for a dead one.
"""

from __future__ import annotations

import asyncio
import subprocess
import time

import pytest

from aster_connect import liveness
from aster_connect.client import connect
from aster_connect.errors import CallUnavailable
from aster_core.testing import aster_executable, assert_clean_error
from tests.support.aio import run

TIMEOUT = 30
#: the longest a killed peer may go unnoticed: the watch's own bound plus start-up and exit slack
NOTICED_WITHIN = liveness.QUIET + liveness.GIVE_UP + liveness.PROBE_EVERY + 3.0
#: a call this slow outlives the watch's bound many times over: it must still be answered
LIVE_BUT_SLOW_MS = int((liveness.QUIET + liveness.GIVE_UP) * 2 * 1000)
IN_FLIGHT_AFTER = 3.0   # seconds after which `aster call` is connected and waiting (it starts in < 1 s)


@pytest.mark.parametrize("end", ["kill", "stop"])
def test_aster_call_notices_a_server_that_dies_mid_call(server_factory, end):
    server = server_factory(("echo",))
    proc = subprocess.Popen([aster_executable(), "call", server.address, "EchoService.slow",
                             '{"ms": 60000, "text": "never"}', "--timeout", str(TIMEOUT)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(IN_FLIGHT_AFTER)
        assert proc.poll() is None, proc.communicate()
        getattr(server, end)()            # kill: SIGKILL, no QUIC close; stop: SIGTERM, a clean close
        died = time.monotonic()
        out, err = proc.communicate(timeout=TIMEOUT + 10)
        noticed = time.monotonic() - died
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    assert_clean_error(result, 7, "[UNAVAILABLE]", "the peer closed the connection")
    assert "Raise --timeout" not in err
    assert noticed < NOTICED_WITHIN, f"noticed {noticed:.1f}s after the server died (timeout {TIMEOUT}s)"


def test_every_call_and_session_on_a_killed_peer_ends_at_once(server_factory):
    server = server_factory(("echo", "session"))

    async def body():
        conn = await connect(server.address, schemas=["EchoService", "CounterSession"])
        try:
            session = await conn.session("CounterSession")
            await session.call("add", {"amount": 2})
            calls = [asyncio.ensure_future(conn.call("EchoService", "slow", {"ms": 60000}, timeout=TIMEOUT))
                     for _ in range(2)]

            async def read_stream() -> list:
                return [item async for item in conn.invoke("EchoService", "count", {"n": 2}, timeout=TIMEOUT)]

            await asyncio.sleep(0.5)
            server.kill()
            died = time.monotonic()
            outcomes = await asyncio.gather(*calls, return_exceptions=True)
            noticed = time.monotonic() - died
            started = time.monotonic()
            later = await asyncio.gather(session.call("add", {"amount": 1}, timeout=TIMEOUT), read_stream(),
                                         return_exceptions=True)
            return outcomes, noticed, later, time.monotonic() - started
        finally:
            await conn.close()

    outcomes, noticed, later, later_took = run(body(), 90)
    for outcome in outcomes:
        assert isinstance(outcome, CallUnavailable) and outcome.status == "UNAVAILABLE", repr(outcome)
        assert "the peer closed the connection" in outcome.detail and outcome.hint
    assert noticed < NOTICED_WITHIN, noticed
    # the connection is closed now: what comes after fails at once instead of waiting
    for outcome in later:
        assert isinstance(outcome, CallUnavailable), repr(outcome)
    assert later_took < 2, later_took


def test_a_live_server_that_answers_slowly_is_not_taken_for_dead(server_factory):
    server = server_factory(("echo",))

    async def body():
        conn = await connect(server.address, schemas=["EchoService"])
        try:
            started = time.monotonic()
            answer = await conn.call("EchoService", "slow", {"ms": LIVE_BUT_SLOW_MS, "text": "worth the wait"},
                                     timeout=TIMEOUT)
            return answer, time.monotonic() - started
        finally:
            await conn.close()

    answer, took = run(body(), 60)
    assert answer["joined"] == "worth the wait"
    assert took >= LIVE_BUT_SLOW_MS / 1000
