"""Every bad input to `aster enroll node`: one `Error:` line with a hint, a documented exit code,
no traceback, and no file created or changed (an existing `.aster-identity` stays byte-identical)."""

from __future__ import annotations

import base64
import json

import pytest

from aster_core.errors import ExitCode

from tests.trust.helpers import assert_rejected_unchanged, ok

ENROLL = ("enroll", "node", "--role", "consumer", "--root-key", "root.key")
IDENTITIES = {
    "garbage.id": "this is [not toml",
    "badkey.id": '[node]\nsecret_key = "not base64!"\n',
    "shortkey.id": '[node]\nsecret_key = "%s"\n' % base64.b64encode(b"short").decode(),
    "nokey.id": '[node]\nendpoint_id = "%s"\n' % ("ab" * 32),
    "mismatch.id": '[node]\nsecret_key = "%s"\nendpoint_id = "%s"\n' % (base64.b64encode(bytes(32)).decode(), "ab" * 32),
    "peers.id": 'peers = "not a list"\n',
    "nodeval.id": 'node = 5\n',
}


@pytest.fixture
def workdir(tmp_path):
    ok("trust", "keygen", "--out-key", "root.key", cwd=tmp_path)
    (tmp_path / "short.key").write_text(json.dumps({"private_key": "ab" * 31}))
    (tmp_path / "nothex.key").write_text(json.dumps({"private_key": "g" * 64}))
    (tmp_path / "notjson.key").write_text("root")
    (tmp_path / "afile").write_text("x")
    for name, text in IDENTITIES.items():
        (tmp_path / name).write_text(text)
    ok(*ENROLL, "--name", "existing", cwd=tmp_path)  # a good .aster-identity that must stay untouched
    return tmp_path


CASES = {
    "root-key-wrong-length": (("enroll", "node", "--role", "consumer", "--root-key", "short.key"), ExitCode.USAGE, "64 hex"),
    "root-key-not-hex": (("enroll", "node", "--role", "consumer", "--root-key", "nothex.key"), ExitCode.USAGE, "not hex"),
    "root-key-not-json": (("enroll", "node", "--role", "consumer", "--root-key", "notjson.key"), ExitCode.USAGE, "not valid JSON"),
    "root-key-missing": (("enroll", "node", "--role", "consumer", "--root-key", "gone.key"), ExitCode.NOT_FOUND, "does not exist"),
    "attr-without-equals": (ENROLL + ("--attr", "team"), ExitCode.USAGE, "no '='"),
    "attr-empty-key": (ENROLL + ("--attr", "=v"), ExitCode.USAGE, "empty key"),
    "expiry-garbage": (ENROLL + ("--expires", "forever"), ExitCode.USAGE, "invalid expiry"),
    "expiry-past": (ENROLL + ("--expires", "2001-01-01"), ExitCode.USAGE, "in the past"),
    "expiry-negative": (ENROLL + ("--expires", "-5d"), ExitCode.USAGE, "expiry"),
    "capabilities-empty-item": (ENROLL + ("--capabilities", "a,,b"), ExitCode.USAGE, "capabilities"),
    "capabilities-and-role-attr": (ENROLL + ("--capabilities", "a", "--attr", "aster.role=b"), ExitCode.USAGE, "--capabilities"),
    "producer-ott": (("enroll", "node", "--role", "producer", "--type", "ott", "--root-key", "root.key"),
                     ExitCode.USAGE, "one-time"),
    "empty-name": (ENROLL + ("--name", " "), ExitCode.USAGE, "--name"),
    "identity-and-out-differ": (ENROLL + ("--identity", "a.id", "--out", "b.id"), ExitCode.USAGE, "--identity and --out"),
    "identity-missing-dir": (ENROLL + ("--identity", "nodir/.aster-identity"), ExitCode.FAILED, "does not exist"),
    "identity-under-a-file": (ENROLL + ("--identity", "afile/.aster-identity"), ExitCode.FAILED, "cannot write"),
    "identity-is-dir": (ENROLL + ("--identity", "."), ExitCode.USAGE, "directory"),
    "root-key-and-profile": (ENROLL + ("--profile", "prod"), ExitCode.USAGE, "--root-key and --profile"),
    "no-profile": (("enroll", "node", "--role", "consumer"), ExitCode.NOT_FOUND, "profile"),
    "profile-not-in-keyring": (("enroll", "node", "--role", "consumer", "--profile", "ghost"), ExitCode.NOT_FOUND, "ghost"),
}
for _name, _needle in {"garbage.id": "not valid TOML", "badkey.id": "secret_key", "shortkey.id": "32-byte",
                       "nokey.id": "no secret_key", "mismatch.id": "does not belong", "peers.id": "[[peers]]",
                       "nodeval.id": "[node]"}.items():
    CASES[f"corrupt-{_name}"] = (ENROLL + ("--identity", _name), ExitCode.USAGE, _needle)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input(workdir, case):
    assert_rejected_unchanged(workdir, *CASES[case])
