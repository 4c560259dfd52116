"""`aster mcp` as a user runs it: --list, --list --json, and bad input."""

from __future__ import annotations

import json

import pytest
from aster_core.testing import run_aster


def test_list_json_shows_what_an_agent_will_see(open_server):
    result = run_aster(["mcp", open_server.address, "--list", "--json", "--deny", "EchoService.fail",
                        "--confirm", "CounterSession.*"])
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    tools = {t["name"]: t for t in data["tools"]}
    assert "EchoService.fail" not in tools
    assert {"name": "EchoService.fail", "pattern": "unary", "reason": "denied by --deny EchoService.fail"} \
        in data["omitted"]
    add = tools["CounterSession.add"]
    assert add["confirm"] is True and add["scoped"] == "session" and add["pattern"] == "unary"
    assert add["inputSchema"]["properties"]["amount"]["type"] == "integer"
    assert tools["EchoService.count"]["outputSchema"]["properties"]["items"]["type"] == "array"
    assert tools["Greeter.greet"]["version"] == 2


def test_list_table(open_server):
    result = run_aster(["mcp", open_server.address, "--list", "--allow", "Greeter.*"])
    assert result.returncode == 0, result.stderr
    assert "Greeter.greet" in result.stdout and "1 tool(s)" in result.stdout
    assert "EchoService.echo" in result.stdout and "matches no --allow" in result.stdout


@pytest.mark.parametrize("args,message", [
    (["mcp", "not-an-address"], "not an address"),
    (["mcp", "aster1AAAAAAAAAAAAAAAAAAAAAAAA", "--list"], "not a valid address"),
    (["mcp", "{addr}", "--json"], "--json only applies with --list"),
    (["mcp", "{addr}", "--transport", "http", "--port", "70000"], "invalid --port"),
])
def test_bad_input_is_one_error_line(open_server, args, message):
    result = run_aster([a.replace("{addr}", open_server.address) for a in args], timeout=30)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in result.stderr


def test_an_unreachable_peer_is_unavailable_for_list(server_factory):
    server = server_factory(("echo",))
    address = server.address
    server.stop()
    result = run_aster(["mcp", address, "--list", "--connect-timeout", "2"], timeout=60)
    assert result.returncode == 7
    assert "Error: [UNAVAILABLE]" in result.stderr and "Traceback" not in result.stderr


def test_a_taken_port_is_a_usage_error(open_server):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run_aster(["mcp", open_server.address, "--transport", "http", "--port", str(port)], timeout=30)
    assert result.returncode == 2
    assert "cannot listen on 127.0.0.1" in result.stderr and "Traceback" not in result.stderr
