"""A peer that dies during a tool call is reported at once, not after the call's deadline
(issue 22, item 9): the tool error is UNAVAILABLE, "the peer closed the connection", and the
MCP server keeps serving."""

from __future__ import annotations

import time

import anyio

from aster_connect import liveness
from tests.mcp.conftest import stdio_mcp
from tests.support.aio import run

NOTICED_WITHIN = liveness.QUIET + liveness.GIVE_UP + liveness.PROBE_EVERY + 3.0


def test_a_peer_killed_during_a_tool_call_is_a_prompt_tool_error(server_factory):
    server = server_factory(("echo",))

    async def body():
        async with stdio_mcp(server.address, "--connect-timeout", "2") as client:
            await client.call_tool("EchoService.echo", {"text": "up"})     # connected, tools known
            outcome: dict = {}

            async def slow_call() -> None:
                outcome["result"] = await client.call_tool("EchoService.slow", {"ms": 60000})
                outcome["at"] = time.monotonic()

            async with anyio.create_task_group() as group:
                group.start_soon(slow_call)
                await anyio.sleep(1.0)
                server.kill()
                died = time.monotonic()
            after = await client.call_tool("EchoService.echo", {"text": "down"})
            return outcome["result"], outcome["at"] - died, after

    result, noticed, after = run(body(), 120)
    assert result.is_error, result
    error = result.structured_content["error"]
    assert error["status"] == "UNAVAILABLE" and "the peer closed the connection" in error["message"], error
    assert noticed < NOTICED_WITHIN, f"the tool error came {noticed:.1f}s after the peer died"
    assert after.is_error and after.structured_content["error"]["status"] == "UNAVAILABLE"
