"""The registry client's connection tries admission again when the registry dropped its answer
(what a burst of new clients did to every runtime server, docs/runtime-notes.md), as `aster call`
does, and gives up with one clear error when it keeps happening."""

from __future__ import annotations

import pytest

from aster_connect import dial
from aster_connect.errors import CallError
from aster_registry.client.address import RegistryAddress
from aster_registry.client.session import RegistrySession
from tests.connect.test_admission_retry import DroppingProducer
from tests.support.aio import run


def test_a_dropped_admission_is_tried_again():
    async def body():
        async with DroppingProducer(drops=3) as producer:
            async with RegistrySession(RegistryAddress(producer.address, "a test"), timeout=15):
                pass
            return producer.requests

    assert run(body(), timeout=60) == 4


def test_dropped_every_time_is_one_unavailable_error():
    async def body():
        async with DroppingProducer(drops=100) as producer:
            with pytest.raises(CallError) as info:
                async with RegistrySession(RegistryAddress(producer.address, "a test"), timeout=15):
                    pass
            return producer.requests, info.value

    requests, error = run(body(), timeout=60)
    assert requests == dial.ADMISSION_RETRIES + 1
    assert error.status == "UNAVAILABLE" and "connection lost" in str(error)
