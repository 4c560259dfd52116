"""`aster mcp --transport http` (streamable HTTP), driven by the official MCP SDK client."""

from __future__ import annotations

import mcp_types as types
import pytest

from tests.support.aio import run


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_tools_calls_and_limits_over_http(open_server, http_mcp, mode):
    from mcp import Client

    served = http_mcp(open_server.address, "--deny", "EchoService.fail")
    assert served.url.startswith("http://127.0.0.1:")

    async def body():
        async with Client(served.url, mode=mode) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            echo = await client.call_tool("EchoService.echo", {"text": "web", "times": 2,
                                                               "inner": {"label": "n", "weight": 1}})
            count = await client.call_tool("EchoService.count", {"n": 50, "_max_items": 4})
            total = await client.call_tool("EchoService.sum", {"_items": [{"value": 5}, {"value": 6}]})
            bad = await client.call_tool("EchoService.echo", {"times": 1.5})
            return tools, echo, count, total, bad

    tools, echo, count, total, bad = run(body(), 60)
    assert "EchoService.fail" not in tools and "EchoService.echo" in tools
    assert tools["EchoService.echo"].input_schema["properties"]["times"]["type"] == "integer"
    assert echo.structured_content["joined"] == "web web"
    assert echo.structured_content["inner"] == {"label": "n", "weight": 1}
    assert count.structured_content["count"] == 4 and count.structured_content["stopped"] == "max_items"
    assert total.structured_content == {"total": 11, "count": 2}
    assert bad.is_error and bad.structured_content["error"]["status"] == "INVALID_ARGUMENT"


def test_http_sessions_follow_mcp_sessions(open_server, http_mcp):
    """Legacy streamable HTTP has Mcp-Session-Id: one Aster session each. The 2026-07-28
    protocol has no sessions, so each of its calls gets a session of its own."""
    from mcp import Client

    served = http_mcp(open_server.address)

    async def body():
        async with Client(served.url, mode="legacy") as first, Client(served.url, mode="legacy") as second:
            a1 = await first.call_tool("CounterSession.add", {"amount": 3})
            b1 = await second.call_tool("CounterSession.add", {"amount": 10})
            a2 = await first.call_tool("CounterSession.add", {"amount": 4})
        async with Client(served.url) as modern:
            m1 = await modern.call_tool("CounterSession.add", {"amount": 2})
            m2 = await modern.call_tool("CounterSession.add", {"amount": 2})
        return a1, b1, a2, m1, m2

    a1, b1, a2, m1, m2 = run(body(), 60)
    assert a1.structured_content["total"] == 3
    assert b1.structured_content["total"] == 10
    assert a2.structured_content == {"total": 7, "calls": 2}
    assert m1.structured_content["total"] == 2 and m2.structured_content["total"] == 2


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_confirm_over_http(open_server, http_mcp, mode):
    from mcp import Client

    served = http_mcp(open_server.address, "--confirm", "Greeter.*")
    asked: list[str] = []

    async def approve(context, params):
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"approve": True})

    async def body():
        async with Client(served.url, mode=mode, elicitation_callback=approve) as client:
            approved = await client.call_tool("Greeter.greet", {"name": "Bo"})
        async with Client(served.url, mode=mode) as cannot_ask:
            refused = await cannot_ask.call_tool("Greeter.greet", {"name": "Bo"})
        return approved, refused

    approved, refused = run(body(), 60)
    assert approved.structured_content["message"] == "Hello, Bo! (v2)"
    assert len(asked) == 1 and "Greeter.greet" in asked[0]
    assert refused.is_error and refused.structured_content["error"]["status"] == "FAILED_PRECONDITION"
