"""`tools/list` answered before the MCP SDK is imported (aster_mcp.listing) is the SDK's answer.

The reference is the SDK itself: the ``Server`` ``aster mcp`` builds, over a real ``PeerLink``
to a real AsterServer, handed ``initialize`` (each handshake-era version) and ``tools/list``
as its stdio transport hands them on. The early answer must be its bytes for every catalogue
the harness can serve (versions, sessions, typed containers, enums, streams). Values whose
JSON text Python and the SDK write differently are left to the SDK, and the SDK is shown to
write them differently. Then the real process: the early answer arrives, the SDK's own
answer to the same request is dropped (one answer per id), and the SDK serves what follows.
"""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from aster_mcp.catalog import Catalog, ToolSpec, build_catalog
from aster_mcp.handshake import HANDSHAKE_VERSIONS
from aster_mcp.listing import LIST_CHANGED, list_answer, list_request, tool_wire
from tests.support.aio import run
from tests.support.mcp_stdio import RawMcp
from tests.support.server import start_server

SERVICES = ("echo", "echo2", "session", "v2", "typed", "metadata", "gauge")
CLIENT = {"name": "c", "version": "1"}


@pytest.fixture(scope="module")
def wide_server():
    with start_server(SERVICES) as server:
        yield server


def initialize(version: str, ident: object = 1) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": ident, "method": "initialize",
                       "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": CLIENT}})


def tools_list(ident: object) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": ident, "method": "tools/list"})


async def sdk_lines(link, lines: list[str], answers: int) -> list[str]:
    """What the SDK's server (as ``aster mcp`` builds it) writes for ``lines``: its first ``answers`` lines."""
    import mcp_types as types
    from mcp.shared._context_streams import create_context_streams
    from mcp.shared.message import SessionMessage

    from aster_mcp.peer import SessionPool
    from aster_mcp.server import build_server, initialization_options

    server = build_server(link, SessionPool())
    feed, read_stream = create_context_streams[SessionMessage | Exception](0)
    write_stream, out = create_context_streams[SessionMessage](0)
    written: list[str] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.run, read_stream, write_stream, initialization_options(server))
        for line in lines:
            await feed.send(SessionMessage(types.jsonrpc_message_adapter.validate_json(line, by_name=False)))
        with anyio.fail_after(30):
            while len(written) < answers:
                written.append((await out.receive()).message.model_dump_json(by_alias=True, exclude_unset=True))
        tg.cancel_scope.cancel()
    return written


def both_answers(address: str, version: str, ident: object, **filters) -> tuple[str | None, str]:
    """(our early answer, the SDK's answer) to ``tools/list`` after ``initialize`` at ``version``."""
    from aster_mcp.catalog import Filters
    from aster_mcp.peer import PeerLink

    async def body():
        link = PeerLink(address, filters=Filters(**filters))
        link.start()
        try:
            ours = list_answer(ident, await link.catalog())
            init, theirs = await sdk_lines(link, [initialize(version), tools_list(ident)], 2)
            assert json.loads(init)["result"]["protocolVersion"] == version
            return ours, theirs
        finally:
            await link.close()

    return run(body(), 60)


@pytest.mark.parametrize("version", HANDSHAKE_VERSIONS)
def test_the_early_answer_is_byte_for_byte_the_sdks(wide_server, version):
    ours, theirs = both_answers(wide_server.address, version, 2)
    assert ours is not None
    assert ours == theirs
    names = {t["name"] for t in json.loads(ours)["result"]["tools"]}
    assert {"EchoService.echo", "EchoService.v1.echo", "CounterSession.add", "Greeter.greet",
            "Ledger.put_many", "EchoService.v1.count", "EchoService.v1.chat"} <= names


def test_a_string_id_and_filtered_catalogue_are_the_sdks_too(wide_server):
    ours, theirs = both_answers(wide_server.address, "2025-06-18", "list é \"1\"",
                                allow=("EchoService.*", "Ledger.*"), deny=("EchoService.fail",))
    assert ours is not None and ours == theirs
    names = {t["name"] for t in json.loads(ours)["result"]["tools"]}
    assert "EchoService.fail" not in names and "Ledger.put" in names and "Greeter.greet" not in names


def _with_default(catalog: Catalog, value: object) -> Catalog:
    """``catalog`` with ``EchoService.roundtrip``'s float field ``f`` defaulting to ``value``."""
    tool = catalog.tools["EchoService.roundtrip"]
    fields = [dict(f, default_value=value) if f["name"] == "f" else f for f in tool.method["fields"]]
    changed = ToolSpec(tool.name, tool.service, tool.version, tool.scoped, {**tool.method, "fields": fields},
                       tool.types, tool.confirm)
    return Catalog(tools={**catalog.tools, tool.name: changed})


@pytest.mark.parametrize("value", [1e-7, 2.5e-5, float("nan"), float("inf")])
def test_values_python_writes_otherwise_are_left_to_the_sdk(value):
    import mcp_types as types
    from aster.contract.manifest import extract_method_descriptors
    from mcp_types import methods

    from tests.support.services import EchoService

    services = [_Service("EchoService", 1, extract_method_descriptors(EchoService.__aster_service_info__))]
    catalog = build_catalog(services)
    assert list_answer(1, catalog) is not None
    changed = _with_default(catalog, value)
    assert list_answer(1, changed) is None
    # why: the SDK's JSON text of such a value is not Python's
    tool = types.Tool.model_validate(tool_wire(changed.tools["EchoService.roundtrip"]), by_name=False)
    dumped = methods.serialize_server_result(
        "tools/list", "2025-11-25", types.ListToolsResult(tools=[tool]).model_dump(
            by_alias=True, mode="json", exclude_none=True))
    sdk_text = types.JSONRPCResponse(jsonrpc="2.0", id=1, result=dumped).model_dump_json(by_alias=True,
                                                                                         exclude_unset=True)
    assert '"f":{"type":"number","default":' in sdk_text
    assert f'"f":{{"type":"number","default":{json.dumps(value)}}}' not in sdk_text


class _Service:
    """What ``build_catalog`` reads of a service (``aster_connect.schema.ServiceInfo``'s members)."""

    def __init__(self, name: str, version: int, methods: list[dict]) -> None:
        self.name, self.version, self.scoped, self.ref = name, version, "shared", name
        self.manifest = {"methods": methods}


@pytest.mark.parametrize("line, expected", [
    (tools_list(2), ("list", 2)),
    (tools_list("a"), ("list", "a")),
    (json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}), ("list", 2)),
    ("  " + tools_list(7) + "\r\n", ("list", 7)),
    (json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}), ("initialized", None)),
    (json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized", "params": {}}), ("initialized", None)),
])
def test_what_is_answered_early(line, expected):
    assert list_request(line) == expected


@pytest.mark.parametrize("line", [
    json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"cursor": "x"}}),
    json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"_meta": {"progressToken": 1}}}),
    json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": None}),
    json.dumps({"jsonrpc": "2.0", "id": True, "method": "tools/list"}),
    json.dumps({"jsonrpc": "2.0", "id": 1.5, "method": "tools/list"}),
    json.dumps({"jsonrpc": "2.0", "id": 2 ** 63, "method": "tools/list"}),
    json.dumps({"jsonrpc": "2.0", "id": "\ud800", "method": "tools/list"}),
    json.dumps({"jsonrpc": "2.0", "method": "tools/list"}),
    json.dumps({"jsonrpc": "1.0", "id": 2, "method": "tools/list"}),
    json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "extra": 1}),
    json.dumps([{"jsonrpc": "2.0", "id": 2, "method": "tools/list"}]),
    json.dumps({"jsonrpc": "2.0", "id": 2, "method": "ping"}),
    json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "tools/list"}}),
    json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized", "id": 3}),
    '{"jsonrpc": "2.0", "id": 2, "method": "tools/list"',
])
def test_what_is_left_to_the_sdk(line):
    assert list_request(line) is None


def test_the_real_process_answers_early_once_and_the_sdk_serves_the_rest(wide_server, tmp_path: Path):
    ours, _ = both_answers(wide_server.address, "2025-11-25", 2)
    raw = RawMcp(wide_server.address, tmp_path / "stderr.log")
    try:
        raw.send(initialize("2025-11-25"), json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
                 tools_list(2))
        assert json.loads(raw.read())["id"] == 1
        assert raw.read() == ours
        raw.send(json.dumps({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                             "params": {"name": "EchoService.v1.echo", "arguments": {"text": "hi", "times": 2}}}),
                 tools_list(4))
        answers = {json.loads(line)["id"]: line for line in (raw.read(60), raw.read(60))}  # in any order
        assert json.loads(answers[3])["result"]["structuredContent"]["joined"] == "hi hi", answers
        assert answers[4] == ours.replace('"id":2', '"id":4', 1)  # the SDK's, for a later request
        assert raw.read(1) is None  # nothing else: the SDK's answer to request 2 was dropped
    finally:
        log = raw.close()
    assert "answered tools/list (request 2) before the MCP SDK was imported" in log, log
    assert "answered early" not in log and "the SDK answered" not in log, log


def test_a_request_before_tools_list_hands_everything_to_the_sdk(wide_server, tmp_path: Path):
    raw = RawMcp(wide_server.address, tmp_path / "stderr.log")
    try:
        raw.send(initialize("2025-06-18"), json.dumps({"jsonrpc": "2.0", "id": "p", "method": "ping"}),
                 tools_list(2))
        answers = [json.loads(raw.read(60)) for _ in range(3)]
        assert [a["id"] for a in answers] == [1, "p", 2]
        assert answers[1]["result"] == {} and "EchoService.echo" in {t["name"] for t in answers[2]["result"]["tools"]}
    finally:
        log = raw.close()
    assert "before the MCP SDK was imported" not in log, log


def test_list_changed_is_the_line_sent_when_the_sdk_lists_more():
    """The line the early responder sends when the SDK's own answer shows the catalogue grew."""
    import mcp_types as types

    message = types.jsonrpc_message_adapter.validate_json(LIST_CHANGED, by_name=False)
    assert message.method == "notifications/tools/list_changed"


_EARLY_STDIO = """
import asyncio
from aster_mcp.handshake import EarlyStdio
from aster_mcp.listing import LIST_CHANGED

async def main():
    stdio = EarlyStdio()
    await stdio.answer_early(2, '{"jsonrpc":"2.0","id":2,"result":{"tools":[]}}', lambda theirs: LIST_CHANGED)
    await stdio.answer_early("a", '{"jsonrpc":"2.0","id":"a","result":{"tools":[]}}', lambda theirs: LIST_CHANGED)
    await stdio.write('{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"new"}]}}\\n')  # it grew meanwhile
    await stdio.write('{"jsonrpc":"2.0","id":"a","result":{"tools": []}}\\n')  # the same, spaced otherwise
    await stdio.write('{"jsonrpc":"2.0","id":5,"result":{}}\\n')  # any other answer goes out
    await stdio.write('{"jsonrpc":"2.0","id":2,"result":{}}\\n')  # only the first answer to 2 was the SDK's copy
    stdio.restore()

asyncio.run(main())
"""


def test_the_sdks_copy_of_an_early_answer_is_dropped_and_a_longer_list_announced():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _EARLY_STDIO], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        '{"jsonrpc":"2.0","id":2,"result":{"tools":[]}}', '{"jsonrpc":"2.0","id":"a","result":{"tools":[]}}',
        LIST_CHANGED, '{"jsonrpc":"2.0","id":5,"result":{}}', '{"jsonrpc":"2.0","id":2,"result":{}}']
    assert "request 2 was answered early" in done.stderr and "request 'a'" not in done.stderr
