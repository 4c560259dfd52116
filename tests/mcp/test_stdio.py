"""`aster mcp` over stdio, driven by the official MCP SDK client, against a real AsterServer."""

from __future__ import annotations

import json
import time

import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPError

from tests.mcp.conftest import stdio_mcp
from tests.support.aio import run
from tests.support.credentials import sign_consumer_credential

EXPECTED_TOOLS = {
    "EchoService.blob", "EchoService.chat", "EchoService.count", "EchoService.echo", "EchoService.fail",
    "EchoService.inspect", "EchoService.roundtrip", "EchoService.slow", "EchoService.sum",
    "CounterSession.add", "CounterSession.reset", "CounterSession.total", "Greeter.greet",
}


def _error(result: types.CallToolResult) -> dict:
    assert result.is_error, result
    return result.structured_content["error"]


def test_tool_list_and_schemas(open_server):
    async def body():
        async with stdio_mcp(open_server.address) as client:
            return {t.name: t for t in (await client.list_tools()).tools}

    tools = run(body(), 60)
    assert set(tools) == EXPECTED_TOOLS
    echo = tools["EchoService.echo"]
    assert echo.input_schema["properties"]["times"] == {"type": "integer", "default": 1}
    assert echo.input_schema["properties"]["inner"]["type"] == "object"
    assert echo.input_schema["properties"]["tags"] == {"type": "array", "items": {"type": "string"}, "default": []}
    assert echo.output_schema["properties"]["joined"] == {"type": "string"}
    assert "unary" in echo.description and "EchoRequest" in echo.description and "EchoResponse" in echo.description
    count = tools["EchoService.count"].input_schema["properties"]
    assert count["n"]["type"] == "integer" and count["_max_items"]["default"] == 100
    assert tools["EchoService.sum"].input_schema["required"] == ["_items"]
    assert "Session-scoped" in tools["CounterSession.add"].description
    assert tools["EchoService.roundtrip"].input_schema["properties"]["mood"]["enum"] == [0, 1, 2]


def test_calls_every_pattern_with_integer_and_nested_arguments(open_server):
    async def body():
        out = {}
        async with stdio_mcp(open_server.address) as client:
            out["echo"] = await client.call_tool(
                "EchoService.echo", {"text": "hi", "times": 3, "inner": {"label": "x", "weight": 2.5}})
            out["inspect"] = await client.call_tool("EchoService.inspect", {"i": 7, "mood": 2, "attrs": {"k": "v"},
                                                                            "children": [{"label": "c"}]})
            out["count"] = await client.call_tool("EchoService.count", {"n": 3})
            out["sum"] = await client.call_tool("EchoService.sum", {"_items": [{"value": 40}, {"value": 2}]})
            out["chat"] = await client.call_tool("EchoService.chat", {"_items": [{"text": "a"}, {"text": "b"}]})
            out["greet"] = await client.call_tool("Greeter.greet", {"name": "Ada"})
            out["blob"] = await client.call_tool("EchoService.blob", {"name": "b", "data": "AAEC"})
            out["bad"] = await client.call_tool("EchoService.echo", {"times": "three"})
            out["unknown"] = await client.call_tool("EchoService.echo", {"colour": "red"})
        return out

    out = run(body(), 60)
    echo = out["echo"]
    assert not echo.is_error
    assert echo.structured_content == {"text": "hi", "times": 3, "inner": {"label": "x", "weight": 2.5},
                                       "tags": [], "joined": "hi hi hi", "version": 1}
    assert json.loads(echo.content[0].text) == echo.structured_content
    received = out["inspect"].structured_content["types"]
    assert received["i"] == "int" and received["inner"] == "Inner" and received["children"] == "list"
    assert out["count"].structured_content == {
        "items": [{"index": i, "text": f"item-{i}"} for i in range(3)], "count": 3, "complete": True,
        "stopped": "end"}
    assert out["sum"].structured_content == {"total": 42, "count": 2}
    assert [m["text"] for m in out["chat"].structured_content["items"]] == ["echo: a", "echo: b"]
    assert out["greet"].structured_content["message"] == "Hello, Ada! (v2)"
    assert out["blob"].structured_content["name"] == "b"
    bad = _error(out["bad"])
    assert bad["status"] == "INVALID_ARGUMENT" and bad["code"] == 3 and "times must be an integer" in bad["message"]
    assert "unknown field(s) 'colour'" in _error(out["unknown"])["message"]


@pytest.mark.alone  # a 5 s bound on calls through `aster mcp`: beside other tests it measures the machine's load
def test_streaming_limits_hold(open_server):
    async def body():
        async with stdio_mcp(open_server.address) as client:
            capped = await client.call_tool("EchoService.count", {"n": 100000, "_max_items": 5})
            start = time.monotonic()
            timed = await client.call_tool("EchoService.count",
                                           {"n": 10_000_000, "_max_items": 10000, "_timeout": 0.2})
            elapsed = time.monotonic() - start
            after = await client.call_tool("EchoService.echo", {"text": "still here"})
            over = await client.call_tool("EchoService.count", {"n": 1, "_max_items": 10**6})
            return capped, timed, elapsed, after, over

    capped, timed, elapsed, after, over = run(body(), 60)
    assert capped.structured_content["count"] == 5
    assert capped.structured_content["stopped"] == "max_items" and not capped.structured_content["complete"]
    assert timed.structured_content["stopped"] == "timeout"
    assert 0 < timed.structured_content["count"] < 10000
    assert elapsed < 5
    assert after.structured_content["text"] == "still here"
    assert _error(over)["status"] == "INVALID_ARGUMENT"


def test_session_scoped_service_gets_one_session_per_mcp_session(open_server):
    async def body():
        async with stdio_mcp(open_server.address) as first:
            a1 = await first.call_tool("CounterSession.add", {"amount": 3})
            a2 = await first.call_tool("CounterSession.add", {"amount": 4})
            async with stdio_mcp(open_server.address) as second:
                b1 = await second.call_tool("CounterSession.add", {"amount": 1})
            a3 = await first.call_tool("CounterSession.total", {})
        return a1, a2, b1, a3

    a1, a2, b1, a3 = run(body(), 60)
    assert a1.structured_content == {"total": 3, "calls": 1}
    assert a2.structured_content == {"total": 7, "calls": 2}
    assert b1.structured_content == {"total": 1, "calls": 1}  # its own session
    assert a3.structured_content == {"total": 7, "calls": 3}


def test_allow_and_deny_filter_the_tools(open_server):
    async def body():
        async with stdio_mcp(open_server.address, "--allow", "EchoService.*", "--allow", "Greeter.*",
                             "--deny", "EchoService.fail", "--deny", "EchoService.s*") as client:
            names = {t.name for t in (await client.list_tools()).tools}
            with pytest.raises(MCPError, match="Unknown tool"):
                await client.call_tool("EchoService.fail", {"code": 7})
            with pytest.raises(MCPError, match="Unknown tool"):
                await client.call_tool("CounterSession.add", {"amount": 1})
            return names

    assert run(body(), 60) == {"EchoService.blob", "EchoService.chat", "EchoService.count", "EchoService.echo",
                               "EchoService.inspect", "EchoService.roundtrip", "Greeter.greet"}


def _approver(answer: str, asked: list[str]):
    async def callback(context, params):
        asked.append(params.message)
        if answer == "approve":
            return types.ElicitResult(action="accept", content={"approve": True})
        if answer == "reject":
            return types.ElicitResult(action="accept", content={"approve": False})
        return types.ElicitResult(action="decline")

    return callback


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_confirm_asks_through_the_client(open_server, mode):
    async def body():
        results, asked = {}, []
        for answer in ("approve", "reject", "decline"):
            async with stdio_mcp(open_server.address, "--confirm", "EchoService.e*", mode=mode,
                                 elicitation_callback=_approver(answer, asked)) as client:
                results[answer] = await client.call_tool("EchoService.echo", {"text": "go", "times": 2})
                if answer == "approve":
                    results["unconfirmed"] = await client.call_tool("EchoService.count", {"n": 1})
        return results, asked

    results, asked = run(body(), 90)
    assert len(asked) == 3  # count (not matched by --confirm) asked nothing
    assert "EchoService.echo" in asked[0] and '"text": "go"' in asked[0]
    assert results["approve"].structured_content["joined"] == "go go"
    assert results["unconfirmed"].structured_content["count"] == 1
    for answer in ("reject", "decline"):
        error = _error(results[answer])
        assert error["status"] == "CANCELLED" and "not made" in error["message"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_confirm_refuses_when_the_client_cannot_ask(open_server, mode):
    async def body():
        async with stdio_mcp(open_server.address, "--confirm", "CounterSession.*", mode=mode) as client:
            refused = await client.call_tool("CounterSession.add", {"amount": 5})
            total = await client.call_tool("CounterSession.total", {})  # also confirmed: refused too
            free = await client.call_tool("EchoService.echo", {"text": "ok"})
        return refused, total, free

    refused, total, free = run(body(), 60)
    error = _error(refused)
    assert error["status"] == "FAILED_PRECONDITION" and "cannot ask" in error["message"]
    assert _error(total)["status"] == "FAILED_PRECONDITION"
    assert free.structured_content["text"] == "ok"


def test_server_side_permission_denied_is_a_tool_error(trusted_server, root_key, tmp_path):
    server = trusted_server(root_key.pubkey_file, services=("echo", "vault"))
    cred = sign_consumer_credential(root_key, tmp_path / "reader.cred", attributes={"aster.role": "reader"})

    async def body():
        async with stdio_mcp(server.address, "--rcan", str(cred), "--allow", "Vault.*") as client:
            names = {t.name for t in (await client.list_tools()).tools}
            read = await client.call_tool("Vault.read", {"key": "greeting"})
            write = await client.call_tool("Vault.write", {"key": "k", "value": "v"})
            again = await client.call_tool("Vault.ping", {"key": "p"})
        return names, read, write, again

    names, read, write, again = run(body(), 60)
    assert names == {"Vault.read", "Vault.write", "Vault.admin", "Vault.ping"}
    assert read.structured_content == {"key": "greeting", "value": "hello", "ok": True}
    error = _error(write)
    assert error["status"] == "PERMISSION_DENIED" and error["code"] == 7
    assert write.content[0].text.startswith("PERMISSION_DENIED (7)")
    assert again.structured_content["value"] == "pong"


@pytest.mark.slow
def test_a_peer_that_goes_away_yields_tool_errors_not_a_dead_server(server_factory):
    server = server_factory(("echo", "session"))

    async def body():
        async with stdio_mcp(server.address, "--connect-timeout", "3") as client:
            before = await client.call_tool("EchoService.echo", {"text": "up"})
            in_session = await client.call_tool("CounterSession.add", {"amount": 1})
            server.kill()
            start = time.monotonic()
            after = await client.call_tool("EchoService.echo", {"text": "down"})
            session_after = await client.call_tool("CounterSession.add", {"amount": 1})
            stream_after = await client.call_tool("EchoService.count", {"n": 3})
            elapsed = time.monotonic() - start
            names = {t.name for t in (await client.list_tools()).tools}
            return before, in_session, after, session_after, stream_after, elapsed, names

    before, in_session, after, session_after, stream_after, elapsed, names = run(body(), 120)
    assert before.structured_content["text"] == "up"
    assert in_session.structured_content["total"] == 1
    for result in (after, session_after, stream_after):
        assert _error(result)["status"] in ("UNAVAILABLE", "DEADLINE_EXCEEDED")
    assert "EchoService.echo" in names
    assert elapsed < 60, elapsed
    print(f"three calls after the peer died answered in {elapsed:.1f}s")


def test_an_unreachable_peer_at_start_up_is_reported_not_fatal(server_factory):
    server = server_factory(("echo",))
    address = server.address
    server.stop()

    async def body():
        async with stdio_mcp(address, "--connect-timeout", "1") as client:
            errors = []
            for _ in range(2):  # each request dials again; the server stays up
                with pytest.raises(MCPError) as err:
                    await client.list_tools()
                errors.append(str(err.value))
            return errors

    errors = run(body(), 60)
    assert all("cannot reach the Aster peer" in e and "UNAVAILABLE" in e for e in errors)


def test_nested_lists_of_structs_come_back_whole(open_server):
    """A response holding a list of messages (roundtrip's `children: list[Inner]`) is decoded for the agent."""
    children = [{"label": "a", "weight": 1.5}, {"label": "b", "weight": 0.0}]

    async def body():
        async with stdio_mcp(open_server.address) as client:
            return await client.call_tool("EchoService.roundtrip", {"children": children, "items": [1, 2]})

    result = run(body(), 60)
    assert not result.is_error, result
    assert result.structured_content["children"] == children
    assert result.structured_content["items"] == [1, 2]
    assert json.loads(result.content[0].text) == result.structured_content
