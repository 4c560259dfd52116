"""A producer that drops the admission connection before answering: `connect` tries again.

The peer here is the runtime's own node (``IrohNode`` on the consumer-admission
ALPN), answering the way the runtime's producer does, except that it closes the
first ``drops`` admission connections after reading the request: what a loaded
producer's early connection drop looks like to the consumer (``read error:
connection lost``).
"""

from __future__ import annotations

import asyncio
import base64

import pytest

from aster_connect import dial
from aster_connect.client import connect
from aster_connect.errors import CallUnavailable
from tests.support.aio import run


class DroppingProducer:
    """Consumer admission on a real node; the first ``drops`` connections are closed unanswered."""

    def __init__(self, drops: int) -> None:
        self.drops = drops
        self.requests = 0

    async def __aenter__(self) -> "DroppingProducer":
        from aster import EndpointConfig, IrohNode
        from aster.trust.hooks import ALPN_CONSUMER_ADMISSION

        config = EndpointConfig(alpns=[ALPN_CONSUMER_ADMISSION], relay_mode="disabled")
        self.node = await IrohNode.memory_with_alpns([ALPN_CONSUMER_ADMISSION], config)
        self.address = base64.b64encode(self.node.node_addr_info().to_bytes()).decode()
        self._task = asyncio.create_task(self._serve())
        return self

    async def _serve(self) -> None:
        from aster.trust.consumer import ConsumerAdmissionResponse

        while True:
            _alpn, conn = await self.node.accept_aster()
            send, recv = await conn.accept_bi()
            await recv.read_to_end(64 * 1024)
            self.requests += 1
            if self.requests <= self.drops:
                conn.close(0, b"")
                continue
            await send.write_all(ConsumerAdmissionResponse(admitted=True).to_json().encode())
            await send.finish()

    async def __aexit__(self, *exc: object) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self.node.close()


@pytest.mark.parametrize("drops", [1, dial.ADMISSION_RETRIES])
def test_admission_dropped_before_the_answer_is_tried_again(drops):
    async def body():
        async with DroppingProducer(drops) as producer:
            conn = await connect(producer.address, timeout=10, schemas=False)
            await conn.close()
            return producer.requests

    assert run(body()) == drops + 1


def test_admission_dropped_every_time_ends_with_one_clear_error():
    async def body():
        async with DroppingProducer(drops=100) as producer:
            with pytest.raises(CallUnavailable) as info:
                await connect(producer.address, timeout=10, schemas=False)
            return producer.requests, info.value

    requests, error = run(body())
    assert requests == dial.ADMISSION_RETRIES + 1
    assert "connection lost" in error.message and error.hint
