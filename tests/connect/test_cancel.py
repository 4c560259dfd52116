"""Cancelling a call made through aster_connect ends that call alone (issue 22, item 4).

anyio (and so every MCP SDK handler) cancels a task again on each await until it ends;
before, a call cancelled that way raised RuntimeError ("aclose(): asynchronous generator is
already running") in place of the cancellation, and left a task reading the call's stream.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from aster_connect.client import connect
from tests.support.aio import run

SLOW = {"ms": 8000, "text": "too late"}


async def _cancel_until_done(task: asyncio.Task) -> None:
    """Cancel ``task`` on every turn of the loop until it ends, as an anyio cancel scope does."""
    while not task.done():
        task.cancel()
        await asyncio.sleep(0)


async def _other_tasks() -> set[asyncio.Task]:
    await asyncio.sleep(0.05)  # let anything cancelled finish winding down
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


@pytest.mark.parametrize("how", ["once", "repeatedly"])
def test_a_cancelled_call_raises_cancelled_and_leaves_connection_and_session(server, how):
    async def body():
        conn = await connect(server.address, schemas=["EchoService", "CounterSession"])
        try:
            session = await conn.session("CounterSession")
            await session.call("add", {"amount": 5})
            before = await _other_tasks()
            call = asyncio.ensure_future(conn.call("EchoService@1", "slow", SLOW, timeout=30))
            await asyncio.sleep(0.3)
            if how == "once":
                call.cancel()
            else:
                await _cancel_until_done(call)
            outcome = (await asyncio.gather(call, return_exceptions=True))[0]
            left = await _other_tasks() - before
            total = await session.call("total", {})
            echo = await conn.call("EchoService@1", "echo", {"text": "after"}, timeout=10)
            return outcome, left, total, echo, session.ended
        finally:
            await conn.close()

    outcome, left, total, echo, ended = run(body(), 60)
    assert isinstance(outcome, asyncio.CancelledError), repr(outcome)
    assert not left, f"tasks left running after the cancelled call: {left}"
    assert total == {"total": 5, "calls": 2} and not ended
    assert echo["joined"] == "after"


def test_a_stream_read_partly_then_cancelled_repeatedly_ends_cleanly(server):
    async def body():
        conn = await connect(server.address, schemas=["EchoService"])
        try:
            seen: list = []

            async def read_some() -> None:
                async for item in conn.invoke("EchoService@1", "count", {"n": 1_000_000}, timeout=30):
                    seen.append(item)
                    if len(seen) == 3:
                        await asyncio.sleep(30)   # the consumer is cancelled while it holds the stream

            task = asyncio.ensure_future(read_some())
            while len(seen) < 3:
                await asyncio.sleep(0.01)
            await _cancel_until_done(task)
            outcome = (await asyncio.gather(task, return_exceptions=True))[0]
            echo = await conn.call("EchoService@1", "echo", {"text": "after"}, timeout=10)
            return outcome, seen, echo
        finally:
            await conn.close()

    outcome, seen, echo = run(body(), 60)
    assert isinstance(outcome, asyncio.CancelledError), repr(outcome)
    assert [item["index"] for item in seen] == [0, 1, 2]
    assert echo["joined"] == "after"


@pytest.fixture(scope="module")
def nap_server():
    from tests.support.server import start_server

    with start_server(("tests.connect.slow_session:NapCounter",)) as srv:
        yield srv


@pytest.mark.parametrize("how", ["once", "repeatedly"])
def test_a_session_call_cancelled_is_cancelled_on_the_server_and_the_session_goes_on(nap_server, how):
    async def body():
        conn = await connect(nap_server.address, schemas=["NapCounter"])
        try:
            session = await conn.session("NapCounter")
            await session.call("add", {"amount": 5})
            call = asyncio.ensure_future(session.call("nap", {"ms": 8000, "amount": 100}, timeout=30))
            await asyncio.sleep(0.3)
            started = time.monotonic()
            if how == "once":
                call.cancel()
            else:
                await _cancel_until_done(call)
            outcome = (await asyncio.gather(call, return_exceptions=True))[0]
            total = await session.call("total", {})
            after = await session.call("add", {"amount": 1})
            return outcome, total, after, time.monotonic() - started, session.ended
        finally:
            await conn.close()

    outcome, total, after, took, ended = run(body(), 60)
    assert isinstance(outcome, asyncio.CancelledError), repr(outcome)
    # the same session (5 is still there), and the nap was stopped: its 100 never arrived
    assert total == {"total": 5, "done": 1} and after == {"total": 6, "done": 2} and not ended
    assert took < 4, f"the next call waited {took:.1f}s: the nap was not cancelled on the server"


def test_a_session_stream_closed_early_is_cancelled_and_the_session_goes_on(nap_server):
    async def body():
        conn = await connect(nap_server.address, schemas=["NapCounter"])
        try:
            session = await conn.session("NapCounter")
            await session.call("add", {"amount": 3})
            seen = []
            stream = session.invoke("drip", {"n": 1000, "ms": 20}, timeout=30)
            async for item in stream:
                seen.append(item["index"])
                if len(seen) == 3:
                    break
            await stream.aclose()
            total = await session.call("total", {})
            drops = await session.call("drip", {"n": 2, "ms": 1})
            return seen, total, drops, session.ended
        finally:
            await conn.close()

    seen, total, drops, ended = run(body(), 60)
    assert seen == [0, 1, 2]
    assert total == {"total": 3, "done": 1} and drops == [{"index": 0}, {"index": 1}] and not ended
