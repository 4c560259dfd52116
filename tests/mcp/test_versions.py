"""A peer offering two versions of one service: each tool calls the version its schema came from.

The plain ``EchoService.method`` names belong to the highest version (2, which
only has ``echo``); version 1 is offered as ``EchoService.v1.method``.
"""

from __future__ import annotations

import json

import pytest
from aster_core.testing import run_aster

from tests.support.aio import run

from .conftest import stdio_mcp

V1_METHODS = ["blob", "chat", "count", "echo", "fail", "inspect", "roundtrip", "slow", "sum"]


@pytest.fixture(scope="module")
def two_versions():
    from tests.support.server import start_server

    with start_server(["echo", "echo2"]) as server:
        yield server


def test_each_tool_reaches_the_version_it_advertises(two_versions):
    async def body() -> dict:
        out: dict = {}
        async with stdio_mcp(two_versions.address) as client:
            out["tools"] = {t.name: t for t in (await client.list_tools()).tools}
            out["v2_echo"] = await client.call_tool("EchoService.echo", {"text": "hi", "times": 2})
            out["v1_echo"] = await client.call_tool("EchoService.v1.echo", {"text": "hi", "times": 2})
            out["v1_count"] = await client.call_tool("EchoService.v1.count", {"n": 1000, "_max_items": 3})
            out["v1_sum"] = await client.call_tool("EchoService.v1.sum", {"_items": [{"value": 40}, {"value": 2}]})
            from mcp.shared.exceptions import MCPError

            with pytest.raises(MCPError, match="Unknown tool: EchoService.count"):
                await client.call_tool("EchoService.count", {"n": 1})
        return out

    out = run(body(), timeout=60)
    assert sorted(out["tools"]) == ["EchoService.echo", *(f"EchoService.v1.{m}" for m in V1_METHODS)]
    assert "(version 2)" in out["tools"]["EchoService.echo"].description
    assert "(version 1)" in out["tools"]["EchoService.v1.count"].description

    v2, v1 = out["v2_echo"], out["v1_echo"]
    assert not v2.is_error and not v1.is_error
    assert v2.structured_content["version"] == 2 and v2.structured_content["joined"] == "HI"
    assert v1.structured_content["version"] == 1 and v1.structured_content["joined"] == "hi hi"

    count = out["v1_count"]
    assert not count.is_error, count.content[0].text
    assert count.structured_content["count"] == 3 and count.structured_content["stopped"] == "max_items"
    assert [i["index"] for i in count.structured_content["items"]] == [0, 1, 2]
    assert out["v1_sum"].structured_content == {"total": 42, "count": 2}
    # Version 2 has no count: there is no such tool (checked in body), nothing goes to version 1 instead.


def test_list_json_tells_which_version_each_tool_calls(two_versions):
    """A glob on the plain name reaches every version: the v1-only fail is denied, both echos confirm."""
    result = run_aster(["mcp", two_versions.address, "--list", "--json", "--deny", "EchoService.fail",
                        "--confirm", "EchoService.echo"])
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    tools = {t["name"]: t for t in data["tools"]}
    assert list(tools)[0] == "EchoService.echo"
    assert (tools["EchoService.echo"]["version"], tools["EchoService.echo"]["target"]) == (2, "EchoService@2")
    for method in V1_METHODS:
        if method != "fail":
            tool = tools[f"EchoService.v1.{method}"]
            assert (tool["service"], tool["method"], tool["version"], tool["target"]) == \
                ("EchoService", method, 1, "EchoService@1")
    assert "EchoService.count" not in tools
    assert [name for name, tool in tools.items() if tool["confirm"]] == ["EchoService.echo", "EchoService.v1.echo"]
    assert data["omitted"] == [{"name": "EchoService.v1.fail", "pattern": "unary",
                                "reason": "denied by --deny EchoService.fail"}]


@pytest.mark.parametrize("flags,offered", [
    (["--deny", "EchoService.*"], []),
    (["--deny", "EchoService.v1.*"], ["EchoService.echo"]),
    (["--allow", "EchoService.count"], ["EchoService.v1.count"]),
    (["--allow", "EchoService.echo"], ["EchoService.echo", "EchoService.v1.echo"]),
])
def test_globs_over_versions(two_versions, flags, offered):
    result = run_aster(["mcp", two_versions.address, "--list", "--json", *flags])
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [t["name"] for t in data["tools"]] == offered
    everything = {"EchoService.echo", *(f"EchoService.v1.{m}" for m in V1_METHODS)}
    assert {o["name"] for o in data["omitted"]} == everything - set(offered)


def test_list_table_names_the_called_version(two_versions):
    result = run_aster(["mcp", two_versions.address, "--list"])
    assert result.returncode == 0, result.stderr
    assert "EchoService@1" in result.stdout and "EchoService@2" in result.stdout
    assert "EchoService.v1.count" in result.stdout
