"""`aster call -H key=value`, `-d JSON|@FILE|@-` and `-v` against a real AsterServer.

The server's MetadataEcho answers with the call metadata its handler saw, so each test shows
what arrived, not what we meant to send. Bad flags fail before any dialling and run in-process.
"""

from __future__ import annotations

import json
import os

import pytest

from aster_core.testing import assert_clean_error, invoke, run_aster
from tests.connect.conftest import parse_json_lines
from tests.support.server import start_server

SERVICES = ("metadata", "metadata_session", "echo")


@pytest.fixture(scope="module")
def peer():
    with start_server(SERVICES) as srv:
        yield srv


def call(*args: str, input: str | None = None, cwd: str | os.PathLike | None = None):
    return run_aster(["call", *args], input=input, cwd=cwd, timeout=60)


def ok(proc) -> str:
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    return proc.stdout


# -- -H: metadata on the call --------------------------------------------------------------------

def test_metadata_reaches_a_unary_handler(peer):
    out = ok(call(peer.address, "MetadataEcho.show", '{"note": "n"}', "-H", "authorization=Bearer a=b",
                  "--header", "trace-id=7", "-H", "x.y_z=", "--json"))
    assert json.loads(out) == {"metadata": {"authorization": "Bearer a=b", "trace-id": "7", "x.y_z": ""},
                               "note": "n", "index": 0}
    bare = json.loads(ok(call(peer.address, "MetadataEcho.show", "{}", "--json")))
    assert bare["metadata"] == {}


def test_metadata_reaches_a_server_stream_and_a_session(peer):
    lines = parse_json_lines(ok(call(peer.address, "MetadataEcho.repeat", '{"n": 3}', "-H", "k=v")))
    assert [(item["index"], item["metadata"]) for item in lines] == [(0, {"k": "v"}), (1, {"k": "v"}),
                                                                     (2, {"k": "v"})]
    session = json.loads(ok(call(peer.address, "MetadataSession.show", "{}", "-H", "who=me", "--json")))
    assert session["metadata"] == {"who": "me"}


@pytest.mark.parametrize(("flag", "needles"), [
    ("novalue", ["-H 'novalue' has no '='"]),
    ("authorization: Bearer x", ["has no '='", "-H authorization=Bearer x"]),
    ("=v", ["metadata key is empty"]),
    ("bad key=v", ["'bad key' has a character other than"]),
    ("k/x=v", ["'k/x' has a character other than"]),
    ("-lead=v", ["does not begin with a letter or digit"]),
    ("_aster_compress_enabled=false", ["reserved for the runtime"]),
    ("k" * 257 + "=v", ["longer than 256 characters"]),
    ("k=" + "v" * 4097, ["4097 characters, more than 4096"]),
    ("k=line\nbreak", ["control character"]),
])
def test_bad_metadata_is_bad_input_before_dialling(flag, needles):
    # the address is never dialled: the flag fails first
    assert_clean_error(invoke(["call", "aster1nowhere", "EchoService.echo", "{}", "-H", flag]), 2, *needles)


def test_too_many_or_repeated_or_too_large_metadata():
    many = [arg for n in range(65) for arg in ("-H", f"k{n}=v")]
    assert_clean_error(invoke(["call", "aster1nowhere", "E.e", "{}", *many]), 2, "more than 64")
    assert_clean_error(invoke(["call", "aster1nowhere", "E.e", "{}", "-H", "k=1", "-H", "k=2"]), 2,
                       "-H k is given twice")
    big = [arg for n in range(3) for arg in ("-H", f"k{n}=" + "v" * 4000)]
    assert_clean_error(invoke(["call", "aster1nowhere", "E.e", "{}", *big]), 2, "more than 8192")


# -- -d: the request from a file or stdin ----------------------------------------------------------

def test_request_from_a_file_and_from_stdin(peer, tmp_path):
    body = tmp_path / "req.json"
    body.write_text('{\n  "text": "from file",\n  "times": 2\n}\n')
    assert json.loads(ok(call(peer.address, "EchoService.echo", "-d", f"@{body}")))["joined"] == "from file from file"
    piped = json.loads(ok(call(peer.address, "EchoService.echo", "-d", "@-", input='{"text": "piped"}')))
    assert piped["text"] == "piped"
    inline = json.loads(ok(call(peer.address, "EchoService.echo", "--data", '{"text": "inline"}')))
    assert inline["text"] == "inline"
    # client streams: an array, or JSON lines, on stdin or in a file
    lines = tmp_path / "numbers.jsonl"
    lines.write_text('{"value": 1}\n{"value": 2}\n\n{"value": 4}\n')
    assert json.loads(ok(call(peer.address, "EchoService.sum", "-d", f"@{lines}"))) == {"total": 7, "count": 3}
    assert json.loads(ok(call(peer.address, "EchoService.sum", "-d", "@-", input='[{"value": 5}, {"value": 6}]'))) \
        == {"total": 11, "count": 2}
    # metadata and -d together
    shown = json.loads(ok(call(peer.address, "MetadataEcho.show", "-d", "@-", "-H", "a=b", input='{"note": "x"}')))
    assert shown == {"metadata": {"a": "b"}, "note": "x", "index": 0}


def test_bad_request_bodies(tmp_path):
    missing = tmp_path / "missing.json"
    assert_clean_error(invoke(["call", "aster1nowhere", "E.e", "-d", f"@{missing}"]), 4, "missing.json")
    assert_clean_error(invoke(["call", "aster1nowhere", "E.e", "-d", f"@{tmp_path}"]), 2, "is a directory")
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as fh:  # sparse: 17 MiB that take no disk
        fh.truncate(17 * 1024 * 1024)
    assert_clean_error(invoke(["call", "aster1nowhere", "E.e", "-d", f"@{huge}"]), 2, "larger than 16777216 bytes")
    # a device or pipe is read up to the limit, never to its end
    assert_clean_error(invoke(["call", "aster1nowhere", "E.e", "-d", "@/dev/zero"]), 2, "larger than 16777216 bytes")
    deep = tmp_path / "deep.json"
    deep.write_text('{"a": ' + "[" * 5000 + "]" * 5000 + "}")
    assert_clean_error(invoke(["call", "aster1nowhere", "E.e", "-d", f"@{deep}"]), 2, "nested 5001 levels")
    wide = tmp_path / "wide.json"
    wide.write_text('{"n": 123456789012345678901234567890}')
    assert_clean_error(invoke(["call", "aster1nowhere", "E.e", "-d", f"@{wide}"]), 2, "out of range")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe{}")
    assert_clean_error(invoke(["call", "aster1nowhere", "E.e", "-d", f"@{binary}"]), 2, "not UTF-8")
    broken = tmp_path / "broken.json"
    broken.write_text('{"text": \n')
    assert_clean_error(invoke(["call", "aster1nowhere", "E.e", "-d", f"@{broken}"]), 2, "is not valid JSON")
    assert_clean_error(invoke(["call", "aster1nowhere", "E.e", "-d", "@-"], input=""), 2, "request on stdin is empty")
    assert_clean_error(invoke(["call", "aster1nowhere", "E.e", "-d", "@"]), 2, "names no file")
    assert_clean_error(invoke(["call", "aster1nowhere", "E.e", "{}", "-d", "{}"]), 2, "give the request once")


def test_a_stdin_body_over_the_limit_stops_at_the_limit():
    from io import BytesIO

    from aster_connect.body import MAX_BODY, read_body
    from aster_core.errors import UsageError

    with pytest.raises(UsageError, match="larger than"):
        read_body("@-", stdin=BytesIO(b" " * (MAX_BODY + 10)))
    assert read_body("@-", stdin=BytesIO(b'{"a": 1}')) == {"a": 1}


# -- -v: what happened, on stderr only -------------------------------------------------------------

def test_verbose_describes_the_call_on_stderr_and_leaves_stdout_alone(peer):
    args = [peer.address, "MetadataEcho.show", '{"note": "v"}', "-H", "k=v", "--json"]
    plain = call(*args)
    loud = call(*args, "-v")
    assert ok(loud) == ok(plain)
    assert plain.stderr == ""
    err = loud.stderr
    assert f"* address: ticket -> endpoint {peer.endpoint_id}, direct 127.0.0.1:" in err
    assert "* credential: none (the peer admits everyone: open gate)" in err
    assert "* method: MetadataEcho v1 show (unary; shared service)" in err
    assert "> metadata: k=v" in err
    assert "* connected in " in err and "schema in " in err
    assert "< first frame " in err and "< trailer: OK (0)" in err
    assert "1 request(s) sent, 1 response(s) received; total " in err
    stream = call(peer.address, "MetadataEcho.repeat", '{"n": 2}', "-v")
    assert len(parse_json_lines(ok(stream))) == 2
    assert "(server_stream; shared service)" in stream.stderr and "2 response(s) received" in stream.stderr
    session = call(peer.address, "MetadataSession.show", "{}", "-v")
    ok(session)
    assert "session-scoped service, one-call session" in session.stderr
    assert "< trailer: none (a single answer in a session ends the call without one)" in session.stderr


def test_verbose_shows_a_failed_calls_trailer_before_the_error(peer):
    proc = call(peer.address, "EchoService.fail", '{"code": 9, "message": "not now"}', "-v")
    assert proc.returncode == 1 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert "< trailer: FAILED_PRECONDITION (9): not now" in lines
    assert lines[-1].startswith("Error: [FAILED_PRECONDITION] not now") and "Traceback" not in proc.stderr


def test_verbose_names_the_credential_and_its_roles(trusted_server, root_key, tmp_path):
    from tests.support.credentials import sign_consumer_credential

    srv = trusted_server(root_key.pubkey_file, services=("vault",))
    cred = sign_consumer_credential(root_key, tmp_path / "reader.json", attributes={"aster.role": "reader,auditor"})
    proc = call(srv.address, "Vault.read", '{"key": "greeting"}', "--rcan", str(cred), "-v")
    assert json.loads(ok(proc))["value"] == "hello"
    assert f"* credential: {cred} (policy; bound to any endpoint; roles: reader, auditor)" in proc.stderr
