"""`aster shell` scripted through stdin, as a script or CI job would drive it."""

from __future__ import annotations

import json

from aster_core.testing import run_aster
from tests.connect.conftest import parse_json_lines


def shell(address: str, script: str, *args: str):
    return run_aster(["shell", address, *args], input=script, timeout=60)


def test_scripted_json_session_is_all_json(server):
    script = "\n".join([
        "pwd",
        "ls",
        "cd EchoService@1",
        "ls",
        "describe echo",
        './echo {"text": "no quoting needed", "times": 2}',   # JSON straight from the line
        './echo text="a b" times=2 inner.label=deep',          # key=value, dotted keys nest
        "./echo positional 3",                                 # positional words fill fields in order
        "./count n=3",                                         # server stream: one line per item
        './sum [{"value": 4}, {"value": 5}]',                  # client stream: a JSON array of items
        './chat [{"text": "x"}]',                              # bidi
        "invoke Greeter.greet name=v2",                        # a version-2 service
        "invoke /services/EchoService/echo text=newest",       # plain name: the highest version
        "session CounterSession",
        "./add 2",
        "./add amount=5",
        "exit",
        "invoke CounterSession.add amount=1",                  # one-off: a fresh session
        "hello",                                               # a shell command from aster-hello
    ]) + "\n"
    proc = shell(server.address, script, "--json")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    out = parse_json_lines(proc.stdout)
    pwd, top, methods, describe, *rest = out   # cd prints nothing
    assert pwd == {"path": "/services"}
    assert {e["name"] for e in top["entries"]} == {"EchoService", "EchoService@1", "CounterSession", "Greeter"}
    assert methods["path"] == "/services/EchoService@1"
    assert {"echo": "unary", "count": "server_stream", "sum": "client_stream", "chat": "bidi_stream"}.items() \
        <= {e["name"]: e["pattern"] for e in methods["entries"]}.items()
    assert [f["name"] for f in describe["fields"]] == ["text", "times", "inner", "tags"]
    json_echo, kv_echo, positional, c0, c1, c2, total, chat, greet, newest, opened, add1, add2, closed, \
        one_off, hello = rest
    assert json_echo["joined"] == "no quoting needed no quoting needed"
    assert (kv_echo["text"], kv_echo["times"], kv_echo["inner"]["label"]) == ("a b", 2, "deep")
    assert (positional["text"], positional["times"]) == ("positional", 3)
    assert [c0["index"], c1["index"], c2["index"]] == [0, 1, 2]
    assert total == {"total": 9, "count": 2}
    assert chat == {"text": "echo: x", "seq": 1}
    assert greet["message"] == "Hello, v2! (v2)"
    assert (newest["text"], newest["version"]) == ("NEWEST", 2)
    assert opened == {"session": "CounterSession", "open": True}
    assert (add1["total"], add2["total"]) == (2, 7)
    assert closed == {"session": "CounterSession", "open": False}
    assert one_off["total"] == 1
    # the plugin's handler sees the shell's context: cwd is back where `session` was typed
    assert hello["text"] == "Hello, EchoService@1!" and hello["cwd"] == "/services/EchoService@1"
    assert "Greeter" in hello["services"]


def test_errors_are_reported_and_the_shell_carries_on(server):
    script = "\n".join([
        "cd /nowhere",
        "cd EchoService@1",
        "./nope",
        "./echo times=many",
        './echo {"text": ',
        "./echo a 2 extra",
        "frobnicate",
        "./echo ok",
    ]) + "\n"
    proc = shell(server.address, script, "--json")
    assert "Traceback" not in proc.stderr
    out = parse_json_lines(proc.stdout)
    errors = [line["error"] for line in out if "error" in line]
    assert [e["exit_code"] for e in errors] == [4, 4, 2, 2, 2, 2]
    assert "Methods of EchoService@1" in errors[1]["hint"]
    assert "times must be int" in errors[2]["message"]
    assert out[-1]["text"] == "ok"                      # the shell went on after the errors
    assert proc.stderr.count("Error: ") == 6
    assert proc.returncode == 4                          # the first failure's code


def test_human_output_and_help(server):
    proc = shell(server.address, "ls\ncd CounterSession\nls\nhelp\n")
    assert proc.returncode == 0, proc.stderr
    assert "CounterSession/" in proc.stdout and "session" in proc.stdout
    assert "add" in proc.stdout and "(amount: int) -> CounterState" in proc.stdout
    assert "session SERVICE" in proc.stdout and "hello:" in proc.stdout
    assert "open gate" in proc.stderr          # said plainly, on stderr when scripted


def test_shell_bad_address_and_unreachable(server_factory):
    proc = run_aster(["shell", "nowhere!"], input="", timeout=30)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    gone = server_factory(("echo",))
    address = gone.address
    gone.stop()
    proc = run_aster(["shell", address, "--timeout", "3"], input="ls\n", timeout=30)
    assert proc.returncode == 7 and "[UNAVAILABLE]" in proc.stderr and proc.stdout == ""


def test_history_is_not_written_when_scripted(server, aster_env):
    shell(server.address, "ls\n")
    assert not (aster_env / "shell_history").exists()
    assert json.loads(shell(server.address, "pwd\n", "--json").stdout) == {"path": "/services"}


def test_bytes_fields_with_defaults_and_nested_lists_of_structs(server):
    """The released shell failed on `bytes` fields with defaults and on lists of messages in a
    response. `blob` has `data: bytes = b""`; `roundtrip` returns `children: list[Inner]`."""
    script = "\n".join([
        "cd EchoService@1",
        "describe blob",
        "./blob only-a-name",                   # positional: data keeps its default
        "./blob name=kv",
        './blob {"name": "json"}',
        "./blob name=with data=abc",
        "invoke EchoService@1.blob name=abs",
        './roundtrip {"children": [{"label": "a", "weight": 1.5}, {"label": "b"}], "inner": {"label": "i"}}',
        "./roundtrip children=[] i=3",
    ]) + "\n"
    proc = shell(server.address, script, "--json")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "Error" not in proc.stderr
    describe, positional, kv, as_json, with_data, absolute, nested, empty = parse_json_lines(proc.stdout)
    data = next(f for f in describe["fields"] if f["name"] == "data")
    assert data["kind"] == "bytes" and data["required"] is False
    for reply, name in ((positional, "only-a-name"), (kv, "kv"), (as_json, "json"), (absolute, "abs")):
        assert reply == {"name": name, "size": 0, "kind": "bytes"}  # the server's default b"" was used
    assert (with_data["name"], with_data["size"]) == ("with", 3)
    assert nested["children"] == [{"label": "a", "weight": 1.5}, {"label": "b", "weight": 0.0}]
    assert nested["inner"] == {"label": "i", "weight": 0.0}
    assert (empty["children"], empty["i"]) == ([], 3)
