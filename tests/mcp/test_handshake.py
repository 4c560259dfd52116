"""`initialize` answered before the MCP SDK is imported (aster_mcp.handshake) is the SDK's answer.

The reference is the SDK itself: the same ``Server`` ``aster mcp`` builds, fed the same line
through the same path its stdio transport uses (our screen, the SDK's JSON-RPC reader, its
``serve`` loop, its writer). Every line the early responder answers must get exactly the
bytes the SDK sends; every line it cannot vouch for is left to the SDK. Then the real process,
spoken to raw and by the Python and TypeScript SDK clients (one offering an older protocol
version), shows the SDK took the session over: one answer to `initialize`, later requests
accepted, no mismatch logged.
"""

from __future__ import annotations

import json
import time

import anyio
import pytest
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from aster_mcp.handshake import HANDSHAKE_VERSIONS, duplicate_verdict, early_answer
from tests.mcp.conftest import stdio_mcp
from tests.mcp.ts_sdk import ts_script
from tests.support.aio import run
from tests.support.mcp_stdio import RawMcp

CLIENT = {"name": "c", "version": "1"}


def sdk_answer(line: str) -> str | None:
    """What the SDK (with our screen in front, as in `aster mcp`) writes for ``line`` as the first message."""
    import mcp_types as types
    from mcp.shared._context_streams import create_context_streams
    from mcp.shared.message import SessionMessage

    from aster_mcp.peer import PeerLink, SessionPool
    from aster_mcp.server import build_server, initialization_options
    from aster_mcp.stdio import screen

    forward, answers = screen(line)
    if not forward:
        return json.dumps(answers[0]) if answers else None

    async def body() -> str | None:
        server = build_server(PeerLink("unused"), SessionPool())
        feed, read_stream = create_context_streams[SessionMessage | Exception](0)
        write_stream, out = create_context_streams[SessionMessage](0)
        try:
            message: object = SessionMessage(types.jsonrpc_message_adapter.validate_json(line, by_name=False))
        except Exception as exc:  # noqa: BLE001 - the SDK's reader hands it on like this
            message = exc
        result: str | None = None
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.run, read_stream, write_stream, initialization_options(server))
            await feed.send(message)
            with anyio.move_on_after(5):
                reply = await out.receive()
                result = reply.message.model_dump_json(by_alias=True, exclude_unset=True)
            tg.cancel_scope.cancel()
        return result

    return anyio.run(body)


def init_line(params: object = None, ident: object = 1, **extra: object) -> str:
    message = {"jsonrpc": "2.0", "id": ident, "method": "initialize",
               "params": params if params is not None else
               {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": CLIENT}}
    message.update(extra)
    return json.dumps(message)


def params(version: str = "2025-11-25", capabilities: object = None, client: object = None, **extra: object) -> dict:
    return {"protocolVersion": version, "capabilities": {} if capabilities is None else capabilities,
            "clientInfo": CLIENT if client is None else client, **extra}


#: what real clients open with: each must be answered early
ANSWERED = [
    *[init_line(params(v)) for v in (*HANDSHAKE_PROTOCOL_VERSIONS, "2024-10-07", "2026-07-28", "", "garbage")],
    init_line(params(capabilities={"roots": {"listChanged": True}, "sampling": {}, "elicitation": {}})),  # Inspector
    init_line(params(capabilities={"sampling": {"context": {}, "tools": {}},
                                   "elicitation": {"form": {}, "url": {}}, "roots": {"listChanged": False},
                                   "experimental": {"x": {"y": 1}}, "extensions": {"e": {}},
                                   "tasks": {"list": {}, "cancel": {},
                                             "requests": {"sampling": {"createMessage": {}},
                                                          "elicitation": {"create": {}}}},
                                   "someFutureCapability": {"on": True}})),
    init_line(params(client={"name": "claude-code", "version": "2.1", "title": "Claude Code",
                             "description": "an agent", "websiteUrl": "https://example.com"})),
    init_line(params(client={"name": "é \"q\" \\ \u0001 😀", "version": "1", "title": None})),
    init_line(ident="req-é \"q\" \\ \n \u0007 😀"),
    init_line(ident=0), init_line(ident=-7), init_line(ident=2 ** 62), init_line(ident=""),
    init_line(params(unknownParam={"x": 1})),
    "  " + init_line() + "  \r\n",
]

#: lines the SDK refuses (answering them early would be wrong)
REFUSED = [
    init_line(params(capabilities={"roots": "yes"})),
    init_line(params(capabilities={"experimental": {"x": 1}})),
    init_line(params(capabilities="all")),
    init_line({"protocolVersion": 3, "capabilities": {}, "clientInfo": CLIENT}),
    init_line({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "c"}}),
    init_line({"protocolVersion": "2025-11-25", "clientInfo": CLIENT}),
    init_line(params(client={"name": "c", "version": "1", "title": 5})),
    init_line(ident=True), init_line(ident=1.0), init_line(ident=None),
    init_line(ident="\ud800"),
    init_line(jsonrpc="1.0"),
    '{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25"',
    json.dumps([json.loads(init_line())]),
]
#: lines the SDK takes but this module does not vouch for (pydantic's lax coercions, members it
#: would have to validate in detail, other methods): left to the SDK, only slower
NOT_VOUCHED = [
    init_line(params(capabilities={"roots": {"listChanged": "yes"}})),
    init_line(params(client={"name": "c", "version": "1", "icons": [{"src": "data:,"}]})),
    init_line(params(_meta={"progressToken": 1})),
    init_line(ident=2 ** 63),
    init_line(extra_member=1),
    init_line(params(capabilities={"experimental": {"x": {"n": float("nan")}}})),
    json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
    json.dumps({"jsonrpc": "2.0", "method": "initialize", "params": params()}),
]


def test_the_known_versions_are_the_sdks():
    assert HANDSHAKE_VERSIONS == HANDSHAKE_PROTOCOL_VERSIONS


@pytest.mark.parametrize("line", ANSWERED)
def test_an_early_answer_is_byte_for_byte_the_sdks(line):
    ours = early_answer(line)
    assert ours is not None, line
    assert ours[1] == sdk_answer(line)
    assert ours[0] == json.loads(line)["id"]


@pytest.mark.parametrize("line", REFUSED)
def test_what_the_sdk_refuses_is_left_to_it(line):
    assert early_answer(line) is None
    assert "error" in json.loads(sdk_answer(line))


@pytest.mark.parametrize("line", NOT_VOUCHED)
def test_what_it_cannot_vouch_for_is_left_to_the_sdk(line):
    assert early_answer(line) is None


def test_the_sdks_duplicate_is_dropped_and_a_difference_is_reported():
    ident, ours = early_answer(init_line(ident=4))
    assert duplicate_verdict((ident, ours), ours + "\n") == (True, None)
    assert duplicate_verdict((ident, ours), '{"jsonrpc":"2.0","method":"notifications/message"}\n') is None
    drop, warning = duplicate_verdict((ident, ours), ours.replace("aster-mcp", "other") + "\n")
    assert drop and "answered early" in warning and "other" in warning
    drop, warning = duplicate_verdict((ident, ours), '{"jsonrpc":"2.0","id":5,"result":{}}\n')
    assert not drop and "not to initialize" in warning


@pytest.mark.parametrize("version", ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2024-10-07"])
def test_the_real_process_answers_once_and_the_sdk_takes_the_session(open_server, tmp_path, version):
    line = init_line(params(version), ident=1)
    raw = RawMcp(open_server.address, tmp_path / "stderr.log")
    try:
        # pipelined, as a hasty client may: the handshake, then a request only an initialized session takes
        raw.send(line, json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
                 json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
                 json.dumps({"jsonrpc": "2.0", "id": 3, "method": "ping"}))
        first = raw.read()
        assert first == sdk_answer(line)
        rest = [json.loads(raw.read()) for _ in range(2)]
        assert [m["id"] for m in rest] == [2, 3]  # exactly one answer to initialize, then these in order
        assert "EchoService.echo" in {t["name"] for t in rest[0]["result"]["tools"]}
        assert rest[1]["result"] == {}
    finally:
        log = raw.close()
    assert "answered early" not in log and "not to initialize" not in log, log


def test_a_client_that_opens_with_another_request_is_served_by_the_sdk(open_server, tmp_path):
    raw = RawMcp(open_server.address, tmp_path / "stderr.log")
    try:
        raw.send(json.dumps({"jsonrpc": "2.0", "id": "p", "method": "ping"}))
        assert json.loads(raw.read())["id"] == "p"
        raw.send(init_line(params("2025-06-18"), ident=9))
        answer = json.loads(raw.read())
        assert answer["id"] == 9 and answer["result"]["protocolVersion"] == "2025-06-18"
    finally:
        raw.close()


def test_initialize_comes_before_the_sdk_is_imported(open_server, tmp_path):
    """The early answer arrives before tools/list (which needs the peer dialled and its manifests read)."""
    raw = RawMcp(open_server.address, tmp_path / "stderr.log")
    try:
        raw.send(init_line())
        assert raw.read() is not None
        initialized = time.perf_counter() - raw.started
        raw.send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
                 json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        assert raw.read() is not None
        listed = time.perf_counter() - raw.started
    finally:
        raw.close()
    assert initialized < listed  # ordering only: durations belong to benchmarks/bench_scale.py


def test_the_python_sdk_client_in_legacy_mode(open_server):
    async def body():
        async with stdio_mcp(open_server.address, mode="legacy") as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            result = await client.call_tool("EchoService.echo", {"text": "hi", "times": 2})
            return tools, result

    tools, result = run(body(), 60)
    assert "EchoService.echo" in tools and not result.is_error


@pytest.mark.parametrize("version", ["2024-11-05", "2025-06-18", "2025-11-25"])
def test_the_typescript_sdk_client_offering_an_older_version(open_server, version):
    out = ts_script("old_version.mjs", json.dumps(["mcp", open_server.address]), version, "EchoService.echo",
                    json.dumps({"text": "hi", "times": 2}))
    line = init_line(params(version, client={"name": "aster-ts-old-client", "version": "0.9.0"}))
    assert out["initialize"] == json.loads(sdk_answer(line))["result"]
    assert out["initialize"]["protocolVersion"] == version
    assert out["initialize"]["capabilities"]["tools"]["listChanged"] is True
    assert "EchoService.echo" in out["tools"]
    assert not out["call"].get("isError"), out["call"]
