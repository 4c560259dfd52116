"""Every bad input to `aster trust`: one `Error:` line with a hint, a documented exit code,
no traceback, and no file created or changed."""

from __future__ import annotations

import json

import pytest

from aster_core.errors import ExitCode

from tests.trust.helpers import assert_rejected_unchanged, ok

GOOD_ID = "ab" * 32


@pytest.fixture
def workdir(tmp_path):
    """A directory holding a good key pair and a set of broken key files."""
    ok("trust", "keygen", "--out-key", "root.key", cwd=tmp_path)
    pair = json.loads((tmp_path / "root.key").read_text())
    (tmp_path / "notjson.key").write_text("this is not json")
    (tmp_path / "short.key").write_text(json.dumps({"private_key": pair["private_key"][:-2]}))
    (tmp_path / "long.key").write_text(json.dumps({"private_key": pair["private_key"] + "00"}))
    (tmp_path / "nothex.key").write_text(json.dumps({"private_key": "xy" * 32}))
    (tmp_path / "mixed.key").write_text(json.dumps({"private_key": pair["private_key"], "public_key": "11" * 32}))
    (tmp_path / "binary.key").write_bytes(b"\xff\xfe\x00\x01")
    (tmp_path / "short.pub").write_text("abcd\n")
    (tmp_path / "afile").write_text("a regular file")
    ok("trust", "sign", "consumer", "--root-key", "root.key", "--out", "good.cred", cwd=tmp_path)
    (tmp_path / "broken.cred").write_text('{"type": "policy", "expires_at": 5, "root_pubkey": "zz"}')
    return tmp_path


SIGN = ("trust", "sign", "consumer", "--root-key", "root.key", "--out", "new.cred")
CASES = {
    # key files
    "keygen-root-existing": (("trust", "keygen", "root", "--out", "root.key"), ExitCode.USAGE, "already exists"),
    "keygen-root-missing-dir": (("trust", "keygen", "root", "--out", "nodir/root.key"), ExitCode.FAILED, "cannot write"),
    "keygen-root-under-a-file": (("trust", "keygen", "root", "--out", "afile/root.key"), ExitCode.FAILED, "cannot write"),
    "keygen-out-key-pub-exists": (("trust", "keygen", "--out-key", "short"), ExitCode.USAGE, "short.pub already exists"),
    "keygen-out-key-existing": (("trust", "keygen", "--out-key", "root.key"), ExitCode.USAGE, "already exists"),
    "keygen-out-key-with-subcommand": (("trust", "keygen", "--out-key", "x.key", "root", "--out", "y.key"),
                                       ExitCode.USAGE, "--out-key"),
    "pubkey-missing-in": (("trust", "keygen", "pubkey", "--in", "nope.key", "--out", "p.pub"), ExitCode.NOT_FOUND, "does not exist"),
    "pubkey-not-json": (("trust", "keygen", "pubkey", "--in", "notjson.key", "--out", "p.pub"), ExitCode.USAGE, "not valid JSON"),
    "pubkey-short-key": (("trust", "keygen", "pubkey", "--in", "short.key", "--out", "p.pub"), ExitCode.USAGE, "64 hex"),
    "pubkey-long-key": (("trust", "keygen", "pubkey", "--in", "long.key", "--out", "p.pub"), ExitCode.USAGE, "64 hex"),
    "pubkey-nonhex-key": (("trust", "keygen", "pubkey", "--in", "nothex.key", "--out", "p.pub"), ExitCode.USAGE, "not hex"),
    "pubkey-mismatched-pair": (("trust", "keygen", "pubkey", "--in", "mixed.key", "--out", "p.pub"), ExitCode.USAGE, "does not belong"),
    "pubkey-binary-file": (("trust", "keygen", "pubkey", "--in", "binary.key", "--out", "p.pub"), ExitCode.USAGE, "not a text file"),
    "pubkey-in-and-profile": (("trust", "keygen", "pubkey", "--in", "root.key", "--profile", "x", "--out", "p.pub"),
                              ExitCode.USAGE, "--in and --profile"),
    "pubkey-no-profile": (("trust", "keygen", "pubkey", "--out", "p.pub"), ExitCode.NOT_FOUND, "profile"),
    "pubkey-existing-out": (("trust", "keygen", "pubkey", "--in", "root.key", "--out", "root.pub"), ExitCode.USAGE, "already exists"),
    # sign
    "sign-key-not-json": (("trust", "sign", "consumer", "--root-key", "notjson.key", "--out", "n.cred"), ExitCode.USAGE, "not valid JSON"),
    "sign-key-wrong-length": (("trust", "sign", "consumer", "--root-key", "short.key", "--out", "n.cred"), ExitCode.USAGE, "64 hex"),
    "sign-key-not-hex": (("trust", "sign", "consumer", "--root-key", "nothex.key", "--out", "n.cred"), ExitCode.USAGE, "not hex"),
    "sign-key-missing": (("trust", "sign", "consumer", "--root-key", "gone.key", "--out", "n.cred"), ExitCode.NOT_FOUND, "does not exist"),
    "sign-key-is-dir": (("trust", "sign", "consumer", "--root-key", ".", "--out", "n.cred"), ExitCode.USAGE, "directory"),
    "sign-endpoint-short": (SIGN + ("--endpoint-id", "abcd"), ExitCode.USAGE, "endpoint id"),
    "sign-endpoint-not-hex": (SIGN + ("--endpoint-id", "zz" * 32), ExitCode.USAGE, "endpoint id"),
    "sign-producer-endpoint-bad": (("trust", "sign", "producer", "--root-key", "root.key", "--endpoint-id", "12345",
                                    "--out", "p.cred"), ExitCode.USAGE, "endpoint id"),
    "sign-attr-without-equals": (SIGN + ("--attr", "team"), ExitCode.USAGE, "no '='"),
    "sign-attr-empty-key": (SIGN + ("--attr", "=x"), ExitCode.USAGE, "empty key"),
    "sign-attr-twice": (SIGN + ("--attr", "a=1", "--attr", "a=2"), ExitCode.USAGE, "twice"),
    "sign-expiry-garbage": (SIGN + ("--expires", "soon"), ExitCode.USAGE, "invalid expiry"),
    "sign-expiry-past": (SIGN + ("--expires", "2020-01-01T00:00:00Z"), ExitCode.USAGE, "in the past"),
    "sign-expiry-zero": (SIGN + ("--expires", "0d"), ExitCode.USAGE, "positive"),
    "sign-out-missing-dir": (("trust", "sign", "consumer", "--root-key", "root.key", "--out", "nodir/c.cred"),
                             ExitCode.FAILED, "does not exist"),
    "sign-out-is-dir": (("trust", "sign", "consumer", "--root-key", "root.key", "--out", "."), ExitCode.USAGE, "directory"),
    "sign-out-existing": (("trust", "sign", "consumer", "--root-key", "root.key", "--out", "good.cred"),
                          ExitCode.USAGE, "already exists"),
    "sign-no-profile": (("trust", "sign", "consumer", "--out", "n.cred"), ExitCode.NOT_FOUND, "profile"),
    "sign-profile-not-in-keyring": (("trust", "sign", "consumer", "--profile", "ghost", "--out", "n.cred"),
                                    ExitCode.NOT_FOUND, "ghost"),
    "sign-root-key-and-profile": (SIGN + ("--profile", "prod"), ExitCode.USAGE, "--root-key and --profile"),
    # inspect / verify
    "inspect-missing": (("trust", "inspect", "nope.cred"), ExitCode.NOT_FOUND, "does not exist"),
    "inspect-broken": (("trust", "inspect", "broken.cred"), ExitCode.USAGE, "root_pubkey"),
    "inspect-not-a-credential": (("trust", "inspect", "afile"), ExitCode.USAGE, "neither JSON nor TOML"),
    "verify-pubkey-short-hex": (("trust", "verify", "good.cred", "--root-pubkey", "abcd"), ExitCode.USAGE, "64 hex"),
    "verify-pubkey-garbage": (("trust", "verify", "good.cred", "--root-pubkey", "not-a-key"), ExitCode.NOT_FOUND, "neither"),
    "verify-pubkey-file-short": (("trust", "verify", "good.cred", "--root-pubkey", "short.pub"), ExitCode.USAGE, "64 hex"),
    "verify-endpoint-bad": (("trust", "verify", "good.cred", "--root-pubkey", "root.pub", "--endpoint-id", "xyz"),
                            ExitCode.USAGE, "endpoint id"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input(workdir, case):
    assert_rejected_unchanged(workdir, *CASES[case])
