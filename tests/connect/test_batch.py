"""`aster call ADDRESS --batch`: many calls over one connection, results in input order.

The command as a user runs it (a subprocess: it ends with the process's exit code), and the
work function `aster_connect.batch.run_batch` in-process on a real connection where a limit
is lowered to be reached. Gauge counts the calls in flight on the server, so the
`--parallel` bound is seen where it matters.
"""

from __future__ import annotations

import json
import time
from io import BytesIO

import pytest

from aster_core.testing import assert_clean_error, invoke, run_aster
from tests.connect.conftest import parse_json_lines
from tests.support.aio import run
from tests.support.server import start_server

SERVICES = ("echo", "echo2", "metadata", "metadata_session", "session")


@pytest.fixture(scope="module")
def peer():
    with start_server(SERVICES) as srv:
        yield srv


def batch(address: str, lines: list, *args: str, timeout: float = 120):
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    return run_aster(["call", address, "--batch", *args], input=text, timeout=timeout)


def results(proc) -> list[dict]:
    assert "Traceback" not in proc.stderr, proc.stderr
    return parse_json_lines(proc.stdout)


def test_results_come_in_input_order_with_their_status(peer):
    lines = [
        {"method": "EchoService@1.slow", "args": {"ms": 600, "text": "first"}, "id": "a"},
        {"method": "EchoService@1.slow", "args": {"ms": 10, "text": "second"}, "id": 2},
        "",
        {"method": "EchoService@1.fail", "args": {"code": 13, "message": "kaboom"}},
        {"method": "EchoService@1.echo", "args": {"text": "hi", "times": 2}},
        {"method": "Nope.call"},
        {"method": "EchoService@1.echo", "args": {"nope": 1}},
        {"method": "CounterSession.add", "args": {"amount": 3}},
    ]
    proc = batch(peer.address, lines)
    assert proc.returncode == 1, proc.stderr
    out = results(proc)
    assert [r["line"] for r in out] == [1, 2, 4, 5, 6, 7, 8]  # the blank line 3 gives no result
    assert [r["status"] for r in out] == ["ok", "ok", "error", "ok", "error", "error", "ok"]
    assert out[0] == {"line": 1, "id": "a", "method": "EchoService@1.slow", "status": "ok",
                      "result": {"text": "first", "times": 1, "inner": {"label": "", "weight": 0.0}, "tags": [],
                                 "joined": "first", "version": 1}}
    assert out[1]["id"] == 2 and out[1]["result"]["text"] == "second"
    assert out[2]["error"] == {"status": "INTERNAL", "code": 13, "message": "kaboom",
                               "hint": "The service failed while handling the call; its log says why.",
                               "exit_code": 1}
    assert out[3]["result"]["joined"] == "hi hi"
    assert (out[4]["error"]["status"], out[4]["error"]["exit_code"]) == ("NOT_FOUND", 4)
    assert out[5]["error"]["status"] == "INVALID_ARGUMENT" and "nope" in out[5]["error"]["message"]
    assert out[6]["result"] == {"total": 3, "calls": 1}


def test_all_ok_exits_0_and_empty_input_writes_nothing(peer):
    proc = batch(peer.address, [{"method": "EchoService.echo", "args": {"text": f"t{n}"}} for n in range(20)])
    assert proc.returncode == 0, proc.stderr
    assert [r["result"]["text"] for r in results(proc)] == [f"T{n}" for n in range(20)]  # version 2 upper-cases
    empty = batch(peer.address, ["", "   "])
    assert (empty.returncode, empty.stdout) == (0, "")


def test_streams_metadata_and_versions(peer):
    lines = [
        {"method": "EchoService@1.count", "args": {"n": 3, "prefix": "p"}},
        {"method": "EchoService@1.sum", "items": [{"value": 2}, {"value": 5}]},
        {"method": "EchoService@1.chat", "items": [{"text": "x"}]},
        {"method": "MetadataEcho.show", "args": {}, "metadata": {"line": "1", "both": "line"}},
        {"method": "MetadataEcho.repeat", "args": {"n": 2}},
        {"method": "MetadataSession.show", "args": {}, "metadata": {"s": "y"}},
        {"method": "EchoService.echo", "args": {"text": "v2"}},
    ]
    proc = batch(peer.address, lines, "-H", "cli=yes", "-H", "both=cli")
    assert proc.returncode == 0, proc.stderr
    out = [r["result"] for r in results(proc)]
    assert [item["text"] for item in out[0]] == ["p-0", "p-1", "p-2"]  # a server stream is collected
    assert out[1] == {"total": 7, "count": 2}
    assert out[2] == [{"text": "echo: x", "seq": 1}]
    assert out[3]["metadata"] == {"cli": "yes", "both": "line", "line": "1"}  # the line's value wins
    assert [item["metadata"] for item in out[4]] == [{"cli": "yes", "both": "cli"}] * 2
    assert out[5]["metadata"] == {"cli": "yes", "both": "cli", "s": "y"}
    assert out[6]["version"] == 2


def test_invalid_lines_are_results_not_a_crash(peer):
    lines = [
        "not json",
        "[1, 2]",
        {"method": "EchoService.echo", "args": {"text": "fine"}},
        {"method": "EchoService.echo", "extra": 1, "id": "x"},
        {"args": {}},
        {"method": "no-dot"},
        {"method": "EchoService.echo", "args": [1]},
        {"method": "EchoService.sum", "items": {"value": 1}},
        {"method": "EchoService.sum", "items": [], "args": {}},
        {"method": "EchoService.echo", "metadata": {"bad key": "v"}},
        {"method": "EchoService.echo", "metadata": {"k": 7}, "id": [1]},
        {"method": "EchoService.echo", "args": {"n": 2 ** 70}},
        '{"method": "EchoService.echo", "args": ' + "[" * 300 + "]" * 300 + "}",
        {"method": "EchoService.echo", "args": {"text": "x" * (4 * 1024 * 1024)}},
        b"\xff\xfe".decode("latin-1"),
        {"method": "EchoService.echo", "args": {"text": "still fine"}},
    ]
    proc = batch(peer.address, lines)
    assert proc.returncode == 1
    out = results(proc)
    assert [r["line"] for r in out] == list(range(1, 17))
    assert [r["status"] for r in out] == ["invalid", "invalid", "ok"] + ["invalid"] * 12 + ["ok"]
    messages = [r["error"]["message"] for r in out if r["status"] == "invalid"]
    for needle, message in zip(["not valid JSON", "not an object", "unknown key 'extra'", '"method" is missing',
                                "expected SERVICE.METHOD", '"args" must be a JSON object', '"items" must be a JSON array',
                                "not both", "'bad key' has a character", "must be text", "out of range",
                                "nested", "longer than 4194304 bytes", ""], messages):
        assert needle in message, (needle, message)
    assert out[3]["id"] == "x" and out[5]["method"] == "no-dot" and out[10]["id"] == [1]
    assert all(r["error"]["exit_code"] == 2 for r in out if r["status"] == "invalid")
    assert out[15]["result"]["text"] == "STILL FINE"


def test_parallel_bounds_the_calls_in_flight(server_factory):
    # each call holds long enough for every slot to fill even on a loaded machine
    gauge = server_factory(("gauge",))
    holds = [{"method": "Gauge.hold", "args": {"ms": 800, "label": str(n)}} for n in range(9)]
    proc = batch(gauge.address, holds, "--parallel", "3")
    assert proc.returncode == 0, proc.stderr
    assert [r["result"]["label"] for r in results(proc)] == [str(n) for n in range(9)]
    reading = json.loads(run_aster(["call", gauge.address, "Gauge.reading", "{}", "--json"]).stdout)
    assert reading == {"peak": 3, "calls": 9, "label": ""}
    busier = server_factory(("gauge",))
    longer = [{"method": "Gauge.hold", "args": {"ms": 1000}}] * 16
    proc = batch(busier.address, longer)  # the default: 8 at once
    assert proc.returncode == 0, proc.stderr
    reading = json.loads(run_aster(["call", busier.address, "Gauge.reading", "{}", "--json"]).stdout)
    assert reading == {"peak": 8, "calls": 16, "label": ""}


def test_fail_fast_stops_reading_and_cancels_the_calls_in_flight(server_factory):
    gauge = server_factory(("gauge", "echo"))
    # two slots: the short hold's frees one for the failing call while the long hold still runs
    lines = [{"method": "Gauge.hold", "args": {"ms": 20}}, {"method": "Gauge.hold", "args": {"ms": 30000}},
             {"method": "EchoService.fail", "args": {"code": 9}}] + \
        [{"method": "Gauge.hold", "args": {"ms": 30000}}] * 40
    started = time.monotonic()
    proc = batch(gauge.address, lines, "--parallel", "2", "--fail-fast")
    took = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr
    out = results(proc)
    statuses = [r["status"] for r in out]
    assert statuses[:3] == ["ok", "cancelled", "error"], statuses
    assert out[2]["error"]["status"] == "FAILED_PRECONDITION"
    assert set(statuses[3:]) <= {"cancelled"} and len(out) < 10, statuses
    assert took < 20, took  # the 30 s holds were given up, not waited for
    reading = json.loads(run_aster(["call", gauge.address, "Gauge.reading", "{}", "--json"]).stdout)
    assert reading["calls"] < 10  # the rest of the input was never read
    # without --fail-fast the same failure stops nothing
    proc = batch(gauge.address, [{"method": "EchoService.fail", "args": {}}, {"method": "Gauge.hold", "args": {}}])
    assert [r["status"] for r in results(proc)] == ["error", "ok"] and proc.returncode == 1


def test_flags_that_do_not_fit_a_batch():
    assert_clean_error(invoke(["call", "aster1nowhere", "EchoService.echo", "--batch"]), 2, "give only the ADDRESS")
    assert_clean_error(invoke(["call", "aster1nowhere", "E.e", "{}", "--parallel", "2"]), 2, "are for --batch")
    assert_clean_error(invoke(["call", "aster1nowhere", "E.e", "{}", "--fail-fast"]), 2, "are for --batch")
    proc = invoke(["call", "aster1nowhere", "--batch", "--parallel", "0"])
    assert proc.returncode == 2 and "--parallel" in proc.stderr and "Traceback" not in proc.stderr


def test_verbose_batch_summarises_on_stderr(peer):
    lines = [{"method": "EchoService.echo", "args": {}}, {"method": "EchoService@1.fail", "args": {}}, "x"]
    proc = batch(peer.address, lines, "-v")
    assert len(results(proc)) == 3
    assert "* batch: 3 result(s): 1 ok, 1 error, 1 invalid; 8 in flight at most" in proc.stderr


# -- in-process: the work function on a real connection --------------------------------------------

def _run_batch(address: str, text: bytes, **kwargs):
    from aster_connect.batch import run_batch
    from aster_connect.client import connect

    emitted: list[dict] = []

    async def body():
        conn = await connect(address, schemas=False)
        async with conn:
            counts = await run_batch(conn, BytesIO(text), emitted.append, **{
                "parallel": 4, "fail_fast": False, "timeout": 30, "metadata": {}, **kwargs})
        return counts

    return run(body(), timeout=60), emitted


def test_the_line_count_limit(peer, monkeypatch):
    import aster_connect.batch as batch_module

    monkeypatch.setattr(batch_module, "MAX_LINES", 3)
    text = b"".join(json.dumps({"method": "EchoService.echo", "args": {"text": str(n)}}).encode() + b"\n"
                    for n in range(6))
    counts, emitted = _run_batch(peer.address, text)
    assert [r["status"] for r in emitted] == ["ok", "ok", "ok", "invalid"]
    assert emitted[3]["line"] == 4 and "more than 3 lines" in emitted[3]["error"]["message"]
    assert dict(counts) == {"ok": 3, "invalid": 1}


def test_a_line_without_a_final_newline_and_one_too_long_to_hold(peer, monkeypatch):
    import aster_connect.batch as batch_module

    monkeypatch.setattr(batch_module, "MAX_LINE", 100)
    text = b'{"method": "EchoService.echo", "args": {"text": "' + b"y" * 500 + b'"}}\n' + \
        b'{"method": "EchoService.echo", "args": {"text": "last"}}'
    counts, emitted = _run_batch(peer.address, text)
    assert [(r["line"], r["status"]) for r in emitted] == [(1, "invalid"), (2, "ok")]
    assert "longer than 100 bytes" in emitted[0]["error"]["message"]


def test_a_peer_that_dies_mid_batch_fails_the_calls_left_not_the_run(server_factory):
    import subprocess

    from aster_core.testing import aster_executable

    srv = server_factory(("echo",))
    lines = [{"method": "EchoService@1.slow", "args": {"ms": 0, "text": "quick"}}] * 2 + \
        [{"method": "EchoService@1.slow", "args": {"ms": 60000, "text": "never"}}] * 10
    proc = subprocess.Popen([aster_executable(), "call", srv.address, "--batch", "--parallel", "4"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        proc.stdin.write("".join(json.dumps(line) + "\n" for line in lines))
        proc.stdin.close()
        first = [json.loads(proc.stdout.readline()) for _ in range(2)]  # the quick ones are answered...
        assert [r["status"] for r in first] == ["ok", "ok"], first
        srv.kill()                                                        # ...then the peer vanishes
        started = time.monotonic()
        proc.wait(timeout=60)
        took = time.monotonic() - started
        rest, err = proc.stdout.read(), proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    out = parse_json_lines(rest)
    assert proc.returncode == 1 and "Traceback" not in err, err
    assert [r["line"] for r in out] == list(range(3, 13))
    assert {(r["status"], r["error"]["status"]) for r in out} == {("error", "UNAVAILABLE")}
    assert took < 20, took  # each call noticed the dead peer: none waited out its 60 s


def test_one_connection_carries_every_call(server_factory):
    """The server sees one RPC connection opened and, as after one `aster call`
    (tests/connect/test_call.py), closed normally: here for 50 calls, 8 of them starting at once
    (the runtime's client alone dials one per call that starts before the first is up)."""
    srv = server_factory(("echo",), env={"ASTER_LOG_LEVEL": "debug"})
    proc = batch(srv.address, [{"method": "EchoService.echo", "args": {"text": str(n)}} for n in range(50)])
    assert proc.returncode == 0 and len(results(proc)) == 50, proc.stderr
    deadline = time.monotonic() + 5
    while "closed by peer: 0" not in srv.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # a second connection's close, were there one, would be logged by now too
    log = srv.stderr_text()
    assert log.count("Connection opened from") == 1, log[-3000:]
    assert log.count("closed by peer: 0") == 1, log[-3000:]
