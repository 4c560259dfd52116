"""`aster mcp` attacked: raw stdio bytes the SDK cannot validate, third-party (TypeScript) clients
reading streaming tools' errors, confirmation of arguments too long to show, hostile arguments,
dead addresses on a stopwatch, corrupt credentials and non-terminal listings (issue 10, items
6-8, 10, 11, 14). Each test is the attack; what must hold is checked on the real process.
"""

from __future__ import annotations

import json
import time

import jsonschema
import mcp_types as types
import pytest

from aster_core.testing import assert_clean_error, run_aster
from tests.mcp.conftest import stdio_mcp
from tests.mcp.faulty import LONG_NAME
from tests.mcp.ts_sdk import call_tools
from tests.support.aio import run
from tests.support.mcp_stdio import RawMcp

SLACK = 2.5   # start-up + bounded close + exit beyond --connect-timeout (see tests/connect/test_adversarial.py)


@pytest.fixture(scope="module")
def faulty():
    from tests.support.server import start_server

    with start_server(("echo", "tests.mcp.faulty:Faulty")) as srv:
        yield srv


# -- item 10: every message with an id is answered, over raw stdio -------------------------------

def _nested(levels: int) -> dict:
    value: object = "bottom"
    for _ in range(levels):
        value = [value]
    return {"text": value}


def _call(request_id: int, arguments: object) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "tools/call",
                       "params": {"name": "EchoService.echo", "arguments": arguments}}).encode()


BAD_MESSAGES = [
    (b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": "x"}', 1, -32600),
    (b'{"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": [1]}', 2, -32600),
    (b'{"jsonrpc": "1.0", "id": 3, "method": "tools/list"}', 3, -32600),
    (b'{"jsonrpc": "2.0", "id": "four", "method": 5}', "four", -32600),
    (_call(5, _nested(250)), 5, -32600),                      # past pydantic's 200 levels
    (b'{"jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": {"name": "EchoService.echo", '
     b'"arguments": {"text": ' + b"[" * 1500 + b"]" * 1500 + b"}}}", 6, -32600),  # past Python's JSON reader
    (b'{"jsonrpc": "2.0", "id": 7, "method": "tools/list"', 7, -32700),   # cut short after the id
    (b'{"jsonrpc": "2.0", "id": 8.5, "method": "tools/list"}', None, -32600),  # an id of no usable kind
    (b'\xff\xfe{"id": 9}', None, None),                       # not JSON, no id to find: no answer is right
]


def test_every_message_with_an_id_gets_an_answer(open_server):
    mcp = RawMcp(open_server.address)
    try:
        mcp.send(json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                             "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                                        "clientInfo": {"name": "raw", "version": "1"}}}).encode())
        assert mcp.read_json(60)["id"] == 0
        mcp.send(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}')
        for data, request_id, code in BAD_MESSAGES:
            mcp.send(data)
            if code is None:
                continue
            answer = mcp.read_json(20)
            assert answer is not None, f"no answer to {data[:80]!r}"
            assert answer["id"] == request_id and answer["error"]["code"] == code, (data[:80], answer)
        # a batch: each element with an id is answered (MCP has no batches)
        mcp.send(b'[{"jsonrpc": "2.0", "id": 10, "method": "tools/list"}, {"jsonrpc": "2.0", "method": "x"},'
                 b' {"jsonrpc": "2.0", "id": 11, "method": "ping"}]')
        batch = [mcp.read_json(20), mcp.read_json(20)]
        assert [a["id"] for a in batch] == [10, 11] and {a["error"]["code"] for a in batch} == {-32600}
        # and the server still serves: a good request after all of that
        mcp.send(b'{"jsonrpc": "2.0", "id": 12, "method": "tools/list"}')
        answer = mcp.read_json(60)
        assert answer["id"] == 12 and any(t["name"] == "EchoService.echo" for t in answer["result"]["tools"])
    finally:
        mcp.close()


# -- item 11: error results fit the tool's output schema, for the TypeScript SDK too ------------------

ERROR_CALLS = [
    ["Faulty.ticks", {"n": 2}],                                # server stream failing after two items
    ["Faulty.echoes", {"_items": [{"n": 1}, {"n": 2}]}],       # bidi stream failing
    ["EchoService.count", {"n": 2, "_max_items": 0}],          # a stream tool's argument error
    ["EchoService.chat", {"_items": "not a list"}],            # a bidi tool's argument error
    ["EchoService.fail", {"code": 9, "message": "unary failure"}],
    ["Faulty.report", {"n": 1}],                               # its response has an `error` field
    ["EchoService.count", {"n": 2}],                           # and a success, for contrast
]


def test_the_typescript_sdk_reads_streaming_tools_errors(faulty):
    outcomes = call_tools(faulty.address, ERROR_CALLS)["outcomes"]
    for (name, _), outcome in zip(ERROR_CALLS, outcomes):
        # before: "Structured content does not match the tool's output schema" was thrown instead
        assert outcome["ok"], (name, outcome)
    *errors, success = [o["result"] for o in outcomes]
    for (name, _), result in zip(ERROR_CALLS, errors):
        assert result["isError"] is True, (name, result)
    ticks, echoes, limit, items, unary, report = errors
    assert ticks["structuredContent"]["stopped"] == "error"
    assert ticks["structuredContent"]["error"]["status"] == "FAILED_PRECONDITION"
    assert "the ticks ran out" in ticks["content"][0]["text"]
    assert echoes["structuredContent"]["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert limit["structuredContent"]["error"]["status"] == "INVALID_ARGUMENT"
    assert unary["structuredContent"]["error"]["message"] == "unary failure"
    assert "structuredContent" not in report and "no report today" in report["content"][0]["text"]
    assert success["structuredContent"]["count"] == 2 and not success.get("isError")


def test_error_results_satisfy_the_output_schema_for_the_python_sdk(faulty):
    async def body():
        async with stdio_mcp(faulty.address) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            return tools, [await client.call_tool(name, args) for name, args in ERROR_CALLS]

    tools, results = run(body(), 90)
    for (name, _), result in zip(ERROR_CALLS, results):
        if result.structured_content is not None:
            jsonschema.validate(result.structured_content, tools[name].output_schema)
    assert all(r.is_error for r in results[:-1]) and not results[-1].is_error


# -- item 6: --confirm shows every argument, or does not ask ---------------------------------------

def test_confirm_shows_all_arguments_and_refuses_what_it_cannot_show(open_server):
    long_text = "x" * 5000 + "-END"
    asked: list[str] = []

    async def approve(context, params):
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"approve": True})

    async def body():
        async with stdio_mcp(open_server.address, "--confirm", "EchoService.*", elicitation_callback=approve) as c:
            shown = await c.call_tool("EchoService.echo", {"text": long_text})
            huge = await c.call_tool("EchoService.echo", {"text": "y" * 200_000})
        return shown, huge

    shown, huge = run(body(), 90)
    assert len(asked) == 1 and long_text in asked[0]         # all 5,004 characters, not the first 2,000
    assert shown.structured_content["text"] == long_text
    assert huge.is_error and huge.structured_content["error"]["status"] == "FAILED_PRECONDITION"
    assert "too long to show" in huge.structured_content["error"]["message"]


# -- item 7: hostile arguments and options are bad input ---------------------------------------------

def test_hostile_tool_arguments_are_tool_errors_and_the_server_goes_on(open_server):
    async def body():
        async with stdio_mcp(open_server.address) as client:
            out = [await client.call_tool("EchoService.echo", {"times": int("9" * 1000)}),
                   await client.call_tool("EchoService.echo", {"times": 2 ** 64}),
                   await client.call_tool("EchoService.echo", _nested(150)),
                   await client.call_tool("EchoService.echo", {"text": "fine"})]
        return out

    big, wide, deep, fine = run(body(), 90)
    for result in (big, wide, deep):
        assert result.is_error and result.structured_content["error"]["status"] == "INVALID_ARGUMENT", result
    assert "64 bits" in big.structured_content["error"]["message"]
    assert "nested" in deep.structured_content["error"]["message"]
    assert fine.structured_content["text"] == "fine"


@pytest.mark.parametrize("value", ["inf", "nan", "0", "-1"])
def test_connect_timeouts_that_are_not_positive_and_finite(open_server, value):
    result = run_aster(["mcp", open_server.address, "--list", "--connect-timeout", value], timeout=60)
    assert_clean_error(result, 2, "--connect-timeout")


@pytest.mark.parametrize("content,needle", [
    (b"\xff\xfe", "not a text file"),
    (b'{"credential_type": ', "not valid JSON"),
    (json.dumps({"root_pubkey": "ab" * 32, "expires_at": "later"}).encode(), "expires_at"),
])
@pytest.mark.parametrize("mode", [["--list"], []])
def test_a_corrupt_rcan_file_is_bad_input_before_serving(open_server, tmp_path, content, needle, mode):
    cred = tmp_path / "consumer.cred"
    cred.write_bytes(content)
    result = run_aster(["mcp", open_server.address, "--rcan", str(cred), *mode], input="", timeout=60)
    line = assert_clean_error(result, 2, needle)
    assert "consumer.cred" in line


def test_a_missing_rcan_file_is_not_found(open_server, tmp_path):
    result = run_aster(["mcp", open_server.address, "--rcan", str(tmp_path / "gone.cred")], input="", timeout=60)
    assert_clean_error(result, 4, "gone.cred")


# -- item 8: --connect-timeout is an upper bound ------------------------------------------------------

@pytest.mark.alone  # its bound includes starting `aster mcp`: beside other tests it measures the machine's load
def test_list_of_a_dead_address_ends_within_its_timeout(server_factory):
    gone = server_factory(("echo",))
    address = gone.address
    gone.stop()
    start = time.monotonic()
    result = run_aster(["mcp", address, "--list", "--connect-timeout", "1"], timeout=60)
    elapsed = time.monotonic() - start
    assert_clean_error(result, 7, "[UNAVAILABLE]")
    assert 1 <= elapsed < 1 + SLACK, elapsed


# -- item 14: non-terminal output is never cut -------------------------------------------------------

def test_list_into_a_pipe_keeps_every_name_whole(faulty):
    result = run_aster(["mcp", faulty.address, "--list"], timeout=60)
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines() if not line.startswith("#")]
    names = {row[0] for row in rows}
    assert f"Faulty.{LONG_NAME}" in names                     # 91 characters, wider than 80 columns
    assert "Faulty.ticks" in names and "EchoService.echo" in names
