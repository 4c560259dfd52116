"""`aster call` and `aster shell` attacked: hostile input, a dead address on a stopwatch,
a peer that dies mid-session, scripts written for the released shell, history permissions.

Each test is the attack itself (issue 10, items 6-9 and 13): the payload is sent, the
clock runs, the server is killed; what must hold is checked on the real command.
"""

from __future__ import annotations

import json
import os
import pty
import select
import stat
import subprocess
import time
from pathlib import Path

import pytest

from aster_core.testing import aster_executable, assert_clean_error, run_aster
from tests.connect.conftest import parse_json_lines

#: what a networked command may take beyond its --timeout: start-up (~0.4 s here),
#: closing the failed client (at most aster_connect.client.CLOSE_TIMEOUT) and exit
#: (~0.3 s). Measured: 0.9-1.3 s; this leaves room for a loaded machine.
SLACK = 2.5

DEEP = "[" * 1000 + "]" * 1000
HUGE = "9" * 4000


def call(address: str, *args: str, **kwargs):
    return run_aster(["call", address, *args], timeout=60, **kwargs)


def shell(address: str, script: str, *args: str, **kwargs):
    return run_aster(["shell", address, *args], input=script, timeout=90, **kwargs)


@pytest.fixture(scope="module")
def dead_address():
    """A real server's ticket after the server stopped: nobody listens there any more."""
    from tests.support.server import start_server

    with start_server(("echo",)) as srv:
        address = srv.address
    return address


# -- item 7: bad input is exit 2, never "unexpected" -----------------------------------------

@pytest.mark.parametrize("args,needle", [
    (["EchoService.echo", '{"text": ' + DEEP + "}"], "nested 1001 levels"),
    (["EchoService.echo", '{"times": ' + HUGE + "}"], "4000 digits"),
    (["EchoService.echo", '{"times": ' + "9" * 5000 + "}"], "5000 digits"),       # past Python's own limit
    (["EchoService.echo", '{"times": 18446744073709551616}'], "out of range"),     # 2**64
    (["EchoService.echo", '{"times": 1e999}'], "out of range"),
    (["EchoService.echo", '{"times": NaN}'], "NaN"),
    (["EchoService@1.sum", "--items", "[" + DEEP + "]"], "nested"),
    (["EchoService@1.sum", "--items", '[{"value": ' + HUGE + "}]"], "4000 digits"),
])
def test_hostile_json_arguments_are_bad_input(server, args, needle):
    assert_clean_error(call(server.address, *args), 2, needle)


def test_hostile_json_lines_on_stdin_are_bad_input(server):
    result = call(server.address, "EchoService@1.sum", input='{"value": 1}\n{"value": ' + HUGE + "}\n")
    assert_clean_error(result, 2, "stdin line 2", "4000 digits")


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "0", "-1", "1e999", "soon"])
@pytest.mark.parametrize("command", ["call", "shell"])
def test_timeouts_that_are_not_a_positive_finite_number(server, command, value):
    args = ["EchoService.echo", "{}"] if command == "call" else []
    result = run_aster([command, server.address, *args, "--timeout", value], input="", timeout=60)
    assert_clean_error(result, 2, "--timeout", repr(value))


def _write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


GOOD = {"credential_type": "policy", "root_pubkey": "ab" * 32, "expires_at": 4102444800, "attributes": {},
        "signature": "cd" * 64}


@pytest.mark.parametrize("name,content,needle", [
    ("latin1.cred", b"\xff\xfe{\x00", "not a text file"),
    ("truncated.cred", '{"credential_type": "policy", ', "not valid JSON"),
    ("deep.cred", "{" + '"a":[' * 2000 + "]" * 2000 + "}", "not valid JSON"),
    ("array.cred", "[1, 2]", "neither"),
    ("pubkey.cred", json.dumps({**GOOD, "root_pubkey": "zz"}), "root_pubkey"),
    ("expiry.cred", json.dumps({**GOOD, "expires_at": "soon"}), "expires_at"),
    ("attrs.cred", json.dumps({**GOOD, "attributes": ["aster.role"]}), "attributes"),
    ("sig.cred", json.dumps({**GOOD, "signature": 5}), "signature"),
    ("nonce.cred", json.dumps({**GOOD, "nonce": "not hex"}), "nonce"),
    ("toml.identity", "[node]\nsecret_key = 'AAAA'\n[[peers]]\nname = 'x'\nrole = 'consumer'\n", "secret_key"),
    ("bad.identity", "[[peers]\nname = 'x'\n", "neither"),
    ("peer.identity", "[[peers]]\nname = 'x'\nrole = 'consumer'\nroot_pubkey = 7\n", "root_pubkey"),
])
def test_a_corrupt_rcan_file_is_bad_input_naming_it(server, tmp_path, name, content, needle):
    """Reported as an unreachable peer (exit 7) before; it is the file that is wrong."""
    path = _write(tmp_path / name, content)
    line = assert_clean_error(call(server.address, "EchoService.echo", "{}", "--rcan", str(path)), 2, needle)
    assert name in line
    line = assert_clean_error(shell(server.address, "ls\n", "--rcan", str(path)), 2, needle)
    assert name in line


@pytest.mark.parametrize("content,needle", [
    (b"\xff\xfe[node]\n", "not"),
    ("[node\n", ".aster-identity"),
    ("[node]\nsecret_key = 'not base64!'\n", "secret_key"),
    ("[[peers]]\nrole = 'consumer'\nroot_pubkey = 'ab'\nexpires_at = 1\n", "root_pubkey"),
    ("[[peers]]\nrole = 'consumer'\nroot_pubkey = '" + "ab" * 32 + "'\nexpires_at = 'tomorrow'\n", "expires_at"),
])
def test_a_malformed_identity_in_the_working_directory_is_bad_input(server, tmp_path, content, needle):
    _write(tmp_path / ".aster-identity", content)
    line = assert_clean_error(call(server.address, "EchoService.echo", "{}", cwd=tmp_path), 2, needle)
    assert ".aster-identity" in line


def test_a_sound_identity_beside_us_is_still_used(server, tmp_path):
    """The checks do not refuse what the runtime accepts: an identity with only a producer peer."""
    _write(tmp_path / ".aster-identity", "[[peers]]\nname = 'me'\nrole = 'producer'\n")
    result = call(server.address, "EchoService.echo", '{"text": "ok"}', cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["text"] == "OK"   # EchoService v2 upper-cases


# -- item 8: --timeout is an upper bound ------------------------------------------------------

@pytest.mark.alone  # its bound includes starting `aster`: beside other tests it measures the machine's load
@pytest.mark.parametrize("timeout", [1, 3])
def test_call_to_a_dead_address_ends_within_its_timeout(dead_address, timeout):
    start = time.monotonic()
    result = call(dead_address, "EchoService.echo", "{}", "--timeout", str(timeout))
    elapsed = time.monotonic() - start
    assert_clean_error(result, 7, "[UNAVAILABLE]", f"within {timeout}s")   # and no runtime noise at exit
    assert timeout <= elapsed < timeout + SLACK, elapsed


@pytest.mark.alone  # its bound includes starting `aster`: beside other tests it measures the machine's load
def test_shell_to_a_dead_address_ends_within_its_timeout(dead_address):
    start = time.monotonic()
    result = shell(dead_address, "ls\n", "--timeout", "1")
    elapsed = time.monotonic() - start
    assert_clean_error(result, 7, "[UNAVAILABLE]")
    assert 1 <= elapsed < 1 + SLACK, elapsed


@pytest.mark.alone  # its bound includes starting `aster`: beside other tests it measures the machine's load
def test_the_timeout_bounds_connecting_and_calling_together(server):
    """1.5 s for the whole command: a call that sleeps 3 s is cut at the deadline, not 1.5 s after connecting."""
    start = time.monotonic()
    result = call(server.address, "EchoService@1.slow", '{"ms": 3000}', "--timeout", "1.5")
    elapsed = time.monotonic() - start
    assert_clean_error(result, 7, "[DEADLINE_EXCEEDED]")
    assert elapsed < 1.5 + SLACK, elapsed


# -- item 9: the shell survives bad lines -------------------------------------------------------

def test_the_shell_reports_each_bad_line_and_runs_the_next(server):
    script = "\n".join([
        "cd EchoService@1",
        "./echo " + '{"text": ' + DEEP + "}",      # RecursionError ended the session before
        "./echo text=one",
        "./echo times=" + HUGE,                    # a key=value word past 64 bits
        "./echo text=two",
        "./echo tags=" + DEEP,                     # nested in a key=value word
        "./echo " + DEEP,                          # a bare deep array
        "./echo text=three",
        "./sum " + "[" + DEEP + "]",
        "./echo text=four",
    ]) + "\n"
    proc = shell(server.address, script, "--json")
    assert "Traceback" not in proc.stderr and "unexpected" not in proc.stderr, proc.stderr
    out = parse_json_lines(proc.stdout)
    assert [o["text"] for o in out if "text" in o] == ["one", "two", "three", "four"]
    errors = [o["error"] for o in out if "error" in o]
    assert [e["exit_code"] for e in errors] == [2, 2, 2, 2, 2], errors
    assert proc.stderr.count("Error: ") == 5
    assert proc.returncode == 2


class LiveShell:
    """`aster shell ADDRESS --json` fed one line at a time; each answer read as it comes."""

    def __init__(self, address: str, *args: str) -> None:
        self.proc = subprocess.Popen([aster_executable(), "shell", address, "--json", *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def read(self, timeout: float = 30.0) -> dict:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert ready, "the shell did not answer"
        line = self.proc.stdout.readline()
        assert line, f"the shell ended: {self.proc.stderr.read().decode() if self.proc.stderr else ''}"
        return json.loads(line)

    def finish(self, timeout: float = 60.0) -> tuple[int, str]:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            code = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(10)
        return code, self.proc.stderr.read().decode() if self.proc.stderr else ""


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_after_the_peer_dies_each_line_fails_alone_and_the_exit_is_the_first_failure(server_factory, how):
    srv = server_factory(("echo", "session"))
    live = LiveShell(srv.address, "--timeout", "3")
    try:
        live.send("invoke EchoService.echo text=before")
        assert live.read()["text"] == "before"
        live.send("pwd")                          # answered once the call before has wholly ended
        assert live.read() == {"path": "/services"}
        getattr(srv, how)()                       # SIGTERM (the peer closes) or SIGKILL (it vanishes)
        live.send("invoke EchoService.echo text=after")
        first = live.read()["error"]
        live.send("ls")                           # needs no peer: still answers
        listing = live.read()
        live.send("invoke CounterSession.add amount=1")   # a session-scoped call: its own session
        second = live.read()["error"]
        live.send("invoke EchoService@1.count n=2")
        third = live.read()["error"]
    finally:
        code, stderr = live.finish()
    assert {e["name"] for e in listing["entries"]} >= {"EchoService", "CounterSession"}
    for error in (first, second, third):
        assert error["exit_code"] == 7, error      # UNAVAILABLE or DEADLINE_EXCEEDED, never a crash
    assert code == 7, stderr                       # the first failure's code (README: as for aster call)
    assert "Traceback" not in stderr and "unexpected" not in stderr, stderr
    assert stderr.count("Error: ") == 3, stderr


# -- item 13: scripts written for the released shell -------------------------------------------

RELEASED_SCRIPT = """\
ls
cd services
ls
cd EchoService
ls
describe echo
./echo {"text": "released"}
invoke echo {"text": "invoked"}
cd /
ls
ls /services/EchoService
ls /services/echoservice
describe /services/EchoService/echo
cd /services/EchoService
pwd
cd ../..
cd blobs
ls
cd /gossip
ls
ls /docs
cd /
cd services/CounterSession
pwd
cd ..
ls services
exit
"""


def test_a_script_written_for_the_released_shell_runs_unchanged(server):
    """The released aster-cli shell starts at / holding blobs, docs, gossip and services."""
    proc = shell(server.address, RELEASED_SCRIPT, "--json")
    assert proc.returncode == 0, proc.stderr
    assert "Error" not in proc.stderr, proc.stderr
    out = parse_json_lines(proc.stdout)
    paths = [o.get("path") for o in out]
    services_listing, *_ = [o for o in out if o.get("path") == "/services"]
    assert {e["name"] for e in services_listing["entries"]} >= {"EchoService", "CounterSession"}
    root = next(o for o in out if o.get("path") == "/")
    assert [e["name"] for e in root["entries"]] == ["blobs", "docs", "gossip", "services"]
    assert [o["text"] for o in out if "joined" in o] == ["RELEASED", "INVOKED"]   # EchoService v2
    assert paths.count("/services/EchoService") >= 3          # ls, ls by path, ls case-folded, pwd
    assert {"path": "/services/EchoService"} in out and {"path": "/services/CounterSession"} in out
    assert {"path": "/blobs", "entries": []} in out and {"path": "/gossip", "entries": []} in out


def test_our_shorter_paths_still_work_beside_the_released_ones(server):
    proc = shell(server.address, "cd EchoService\npwd\ncd ..\ndescribe EchoService/echo\nls blobs\n", "--json")
    assert proc.returncode == 0, proc.stderr
    out = parse_json_lines(proc.stdout)
    assert out[0] == {"path": "/services/EchoService"}
    assert out[1]["name"] == "echo"
    assert out[2] == {"path": "/blobs", "entries": []}
    lost = shell(server.address, "cd nowhere\n")
    assert lost.returncode == 4 and "no service 'nowhere'" in lost.stderr and "Traceback" not in lost.stderr


# -- item 6: the history file is the user's alone ------------------------------------------------

def _drive(argv: list[str], lines: list[str], env: dict[str, str], timeout: float = 60.0) -> str:
    """Run ``argv`` on a pseudo-terminal under umask 022, type ``lines`` at each prompt, return the screen."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
                            preexec_fn=lambda: os.umask(0o022))
    os.close(slave)
    screen = b""
    end = time.monotonic() + timeout
    try:
        for line in lines:
            while screen.count(b"aster /") <= lines.index(line) and time.monotonic() < end:
                ready, _, _ = select.select([master], [], [], 0.5)
                if ready:
                    try:
                        screen += os.read(master, 65536)
                    except OSError:
                        break
            os.write(master, line.encode() + b"\r")
        proc.wait(max(end - time.monotonic(), 1))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        os.close(master)
    return screen.decode(errors="replace")


@pytest.mark.parametrize("existing", [False, True])
def test_shell_history_is_written_0600(server, aster_env, existing):
    history = aster_env / "shell_history"
    aster_env.mkdir(parents=True, exist_ok=True)
    if existing:                                   # a history left 0644 by an earlier version
        history.write_text("\n# old\n+pwd\n")
        history.chmod(0o644)
    env = {**os.environ, "TERM": "dumb"}
    screen = _drive([aster_executable(), "shell", server.address], ["pwd", "exit"], env)
    assert history.exists(), screen
    assert stat.S_IMODE(history.stat().st_mode) == 0o600, oct(history.stat().st_mode)
    assert "pwd" in history.read_text()
