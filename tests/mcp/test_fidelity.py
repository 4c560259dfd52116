"""Tool schemas carry every detail of the published manifests, end to end.

A real server (tests/support) serves EchoService and Ledger, the harness's ``typed`` service
(integer-keyed map, list of optionals, map of optionals, nested messages, an idempotent method). What
``aster mcp --list --json`` and the MCP SDK client see must be exactly what the runtime's
own method descriptors of those classes say.
"""

from __future__ import annotations

import json
from typing import Iterator

import jsonschema
import pytest
from aster_core.testing import run_aster

from aster_mcp import schema as sch
from tests.mcp.conftest import stdio_mcp
from tests.support.aio import run
from tests.support.server import RunningServer, start_server
from tests.support.services import EchoService, Ledger

INT_MAP = {"type": "object", "additionalProperties": {"type": "number"}, "propertyNames": {"pattern": r"^-?[0-9]+$"},
           "description": "map with integer keys (written as JSON strings)"}


@pytest.fixture(scope="module")
def scoreboard_server() -> Iterator[RunningServer]:
    with start_server(("echo", "typed")) as server:
        yield server


def _published(*classes: type) -> dict[str, list[dict]]:
    """The runtime's own method descriptors, as JSON (what a manifest carries)."""
    from aster.contract.manifest import extract_method_descriptors

    return {cls.__aster_service_info__.name: json.loads(json.dumps(extract_method_descriptors(
        cls.__aster_service_info__))) for cls in classes}


def _list_json(address: str) -> dict:
    result = run_aster(["mcp", address, "--list", "--json"], timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_list_json_schemas_are_exactly_the_published_manifests(scoreboard_server):
    tools = {t["name"]: t for t in _list_json(scoreboard_server.address)["tools"]}
    published = _published(EchoService, Ledger)
    types = sch.TypeTable.from_methods(m for methods in published.values() for m in methods)
    expected = {f"{service}.{m['name']}": m for service, methods in published.items() for m in methods}
    assert set(tools) == set(expected)
    for name, method in expected.items():
        assert tools[name]["inputSchema"] == sch.input_schema(method, types), name
        assert tools[name]["outputSchema"] == sch.output_schema(method, types), name
        jsonschema.Draft202012Validator.check_schema(tools[name]["inputSchema"])

    put = tools["Ledger.put"]
    props = put["inputSchema"]["properties"]
    assert props["by_id"] == {**INT_MAP, "default": {}}
    assert props["notes"] == {"type": "array", "items": {"type": ["string", "null"]}, "default": []}
    assert props["ranks"] == {"type": "object", "additionalProperties": {"type": ["integer", "null"]},
                              "default": {}}
    assert put["outputSchema"]["properties"]["by_id"] == INT_MAP
    assert put["description"].endswith("Idempotent.")
    attrs = tools["EchoService.roundtrip"]["inputSchema"]["properties"]["attrs"]
    assert attrs == {"type": "object", "additionalProperties": {"type": "string"}, "default": {}}
    assert "Idempotent" not in tools["EchoService.echo"]["description"]


def test_an_agent_calls_with_integer_keys_and_optional_items(scoreboard_server):
    arguments = {"by_id": {"7": 0.5, "-2": 1}, "notes": ["a", None], "ranks": {"x": None, "y": 2}}

    async def body():
        async with stdio_mcp(scoreboard_server.address) as client:
            listed = {t.name: t for t in (await client.list_tools()).tools}
            good = await client.call_tool("Ledger.put", arguments)
            bad_key = await client.call_tool("Ledger.put", {"by_id": {"seven": 1.0}})
            bad_item = await client.call_tool("Ledger.put", {"notes": ["a", 1]})
            return listed, good, bad_key, bad_item

    listed, good, bad_key, bad_item = run(body(), 90)
    assert listed["Ledger.put"].input_schema["properties"]["by_id"]["propertyNames"] == INT_MAP["propertyNames"]
    assert not good.is_error, good
    assert good.structured_content == {"by_id": {"7": 0.5, "-2": 1.0}, "notes": ["a", None],
                                       "ranks": {"x": None, "y": 2}}
    assert bad_key.is_error and "integer keys" in json.dumps(bad_key.structured_content)
    assert bad_item.is_error and "notes[1]" in json.dumps(bad_item.structured_content)


def test_services_without_a_manifest_are_omitted_with_the_reason(scoreboard_server):
    """With no manifest read, no tool is guessed: every service is reported as omitted."""
    from aster_connect.client import connect

    from aster_mcp.catalog import build_catalog

    async def body():
        conn = await connect(scoreboard_server.address, schemas=False)
        async with conn:
            before = build_catalog(conn.services)
            await conn.load_schemas(["Ledger"])
            after = build_catalog(conn.services)
            return before, after

    before, after = run(body(), 60)
    assert before.tools == {}
    assert {o.name: o.reason for o in before.omitted} == {
        "EchoService.*": "no published manifest could be read, so no method schemas",
        "Ledger.*": "no published manifest could be read, so no method schemas"}
    assert sorted(after.tools) == ["Ledger.put", "Ledger.put_many", "Ledger.tally"]
    assert [o.name for o in after.omitted] == ["EchoService.*"]
