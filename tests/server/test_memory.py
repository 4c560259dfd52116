"""aster_server.memory: the memory a load used is given back once calls stop arriving."""

from __future__ import annotations

import asyncio
import logging

from aster_server.memory import trim, trim_when_idle
from aster_server.requestlog import RequestLog
from tests.support.aio import run


def test_trim_returns_free_pages_on_glibc():
    assert trim() is True  # Linux with glibc: malloc_trim ran after the collection


def test_trimmed_once_after_a_load_never_while_idle_from_the_start(caplog):
    log = RequestLog("memory-test")

    async def body() -> int:
        stop = asyncio.Event()
        task = asyncio.create_task(trim_when_idle(log, stop, idle=0.05))
        await asyncio.sleep(0.2)  # no call yet: nothing to give back
        quiet = sum("memory trimmed" in r.message for r in caplog.records)
        for _ in range(3):  # a load: calls keep arriving
            log.calls += 1
            await asyncio.sleep(0.03)
        await asyncio.sleep(0.4)  # then none
        stop.set()
        await asyncio.wait_for(task, 5)
        return quiet

    with caplog.at_level(logging.DEBUG, logger="aster_server.memory"):
        quiet = run(body(), timeout=30)
    assert quiet == 0
    assert sum("memory trimmed" in r.message for r in caplog.records) == 1
