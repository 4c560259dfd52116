"""`aster mcp` against big producers and late publishers: never silently empty."""

from __future__ import annotations

import json

import anyio
import mcp_types as types
import pytest
from aster_core.testing import run_aster

from tests.mcp.conftest import stdio_mcp
from tests.support import scale
from tests.support.aio import run
from tests.support.server import start_server

SERVICES = 100


@pytest.fixture(scope="module")
def hundred_services():
    with start_server(scale.specs(SERVICES), timeout=120) as srv:
        yield srv


@pytest.mark.slow
def test_list_finds_every_tool_of_a_hundred_services_every_time(hundred_services):
    expected = {f"Svc{i}.m{k}" for i in range(SERVICES) for k in range(scale.METHODS)}
    runs = []
    for env in ({"ASTER_MANIFEST_CACHE": "off"},) * 3 + ({},) * 2:  # cold three times, then fill and use the cache
        result = run_aster(["mcp", hundred_services.address, "--list", "--json"], env=env, timeout=90)
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        runs.append(({t["name"] for t in data["tools"]} == expected, data["unread"], data["omitted"]))
    assert runs == [(True, [], [])] * 5


def test_tools_list_changed_arrives_when_a_manifest_arrives_late(aster_env):
    env = {"ASTER_HARNESS_LATE_SERVICES": "Svc1", "ASTER_HARNESS_MANIFEST_DELAY": "10"}
    with start_server(["tests.support.late:Svc0", "tests.support.late:Svc1"], env=env) as srv:
        async def body():
            changed = anyio.Event()

            async def on_message(message):
                if isinstance(message, types.ToolListChangedNotification):
                    changed.set()

            async with stdio_mcp(srv.address, mode="legacy", message_handler=on_message) as client:
                first = sorted(t.name for t in (await client.list_tools()).tools)
                with anyio.fail_after(45):
                    await changed.wait()
                second = sorted(t.name for t in (await client.list_tools()).tools)
                called = await client.call_tool("Svc1.m2", {"text": "z", "n": 3})
                return first, second, called

        first, second, called = run(body(), 120)
    assert first == [f"Svc0.m{k}" for k in range(10)]
    assert second == sorted([f"Svc0.m{k}" for k in range(10)] + [f"Svc1.m{k}" for k in range(10)])
    assert called.structured_content == {"text": "zzz", "n": 3, "service": "Svc1", "method": "m2"}


def test_list_exits_non_zero_when_a_service_has_no_tools(aster_env):
    env = {"ASTER_HARNESS_LATE_SERVICES": "Svc1", "ASTER_HARNESS_MANIFEST_DELAY": "never"}
    with start_server(["tests.support.late:Svc0", "tests.support.late:Svc1"], env=env) as srv:
        missing = run_aster(["mcp", srv.address, "--list", "--json"], env={"ASTER_MANIFEST_CACHE": "off"})
        table = run_aster(["mcp", srv.address, "--list"], env={"ASTER_MANIFEST_CACHE": "off"})
        allowed = run_aster(["mcp", srv.address, "--list", "--json", "--allow", "Svc0.*"],
                            env={"ASTER_MANIFEST_CACHE": "off"})
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    errors = [line for line in missing.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "1 service(s) have no tools" in errors[0] and "Svc1" in errors[0]
    assert "Hint: " in errors[0] and "not in the peer's registry document" in errors[0]
    data = json.loads(missing.stdout)  # what could be read is still shown
    assert len(data["tools"]) == 10 and [u["service"] for u in data["unread"]] == ["Svc1"]
    assert table.returncode == 1 and "Svc0.m0" in table.stdout and "Svc1" in table.stderr
    assert allowed.returncode == 0, allowed.stderr  # Svc1 is not offered, so nothing is missing
    assert len(json.loads(allowed.stdout)["tools"]) == 10
