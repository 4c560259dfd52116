"""`aster trust` under attack (issue 10): hostile credentials and key files, absurd expiries,
fields no signature covers, unreadable files, outputs that are not ours to replace.

Credentials are signed for real with our signer (byte-identical to the runtime's, see
test_credentials.py) and the runtime's own verifier confirms what an attacker can sign.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aster_core.errors import ExitCode
from aster_core.testing import assert_clean_error
from aster_trust import credentials, keys

from tests.core.attack import HUGE_INT, nested_json, unprivileged
from tests.trust.helpers import FAMILIES, aster, assert_rejected_unchanged, ok

ENDPOINT = "0f" * 32
FUTURE = 4_102_444_800  # 2100-01-01
U64_MAX = 2**64 - 1


@pytest.fixture
def workdir(tmp_path):
    ok("trust", "keygen", "--out-key", "root.key", cwd=tmp_path)
    return tmp_path


def root_of(workdir: Path) -> keys.RootKey:
    return keys.load_root_key_file(workdir / "root.key")


def assert_refused(result, *needles: str) -> str:
    """`trust verify` found the credential wanting: exit 1, the details on stdout, and one
    Error line on stderr holding each of ``needles``."""
    assert result.returncode == ExitCode.FAILED, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Hint:" in lines[0], result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def write_json(path: Path, doc) -> Path:
    path.write_text(json.dumps(doc, indent=2))
    return path


# ── item 6: fields outside the signed form ────────────────────────────────────────

def test_a_producer_credential_with_an_unsigned_nonce_is_refused(workdir):
    root = root_of(workdir)
    cred = credentials.sign(root, "producer", expires_at=FUTURE, attributes={"aster.role": "producer"},
                            endpoint_id=ENDPOINT)
    doc = cred.to_dict()
    doc["nonce"] = "ab" * 32  # looks like a one-time token; no signature covers it
    write_json(workdir / "tampered.cred", doc)

    from aster.trust import EnrollmentCredential, verify_signature

    runtime_view = EnrollmentCredential(endpoint_id=ENDPOINT, root_pubkey=root.public_key, expires_at=FUTURE,
                                        attributes={"aster.role": "producer"}, signature=cred.signature)
    assert verify_signature(runtime_view), "the signature still verifies: only the form gives it away"

    line = assert_refused(aster("trust", "verify", "tampered.cred", "--root-pubkey", "root.pub", cwd=workdir),
                          "outside the signed form", "nonce")
    assert "does not verify" in line
    shown = json.loads(ok("trust", "inspect", "tampered.cred", "--json", cwd=workdir).stdout)
    assert shown["valid"] is False and any("nonce" in p for p in shown["problems"])
    # the untouched credential verifies, so the refusal is about the extra field alone
    write_json(workdir / "clean.cred", cred.to_dict())
    ok("trust", "verify", "clean.cred", "--root-pubkey", "root.pub", cwd=workdir)


@pytest.mark.parametrize("kind, extra", [
    ("policy", {"trusted": "yes"}),
    ("ott", {"endpoint": ENDPOINT}),
    ("producer", {"capabilities": "admin"}),
    ("policy", {"attributes_extra": {"aster.role": "admin"}}),
])
def test_any_key_outside_the_signed_form_is_refused(workdir, kind, extra):
    root = root_of(workdir)
    endpoint = ENDPOINT if kind == "producer" else None
    doc = credentials.sign(root, kind, expires_at=FUTURE, endpoint_id=endpoint).to_dict()
    doc.update(extra)
    write_json(workdir / "extra.cred", doc)
    assert_refused(aster("trust", "verify", "extra.cred", "--root-pubkey", "root.pub", cwd=workdir),
                   "outside the signed form", next(iter(extra)))


def test_a_producer_identity_entry_with_a_nonce_is_refused(workdir):
    root = root_of(workdir)
    ok("enroll", "node", "--role", "producer", "--root-key", "root.key", cwd=workdir)
    path = workdir / ".aster-identity"
    text = path.read_text().replace('type = "producer"', 'type = "producer"\nnonce = "' + "cd" * 32 + '"', 1)
    path.write_text(text)
    assert_refused(aster("trust", "verify", ".aster-identity", "--root-pubkey", root.public_hex, cwd=workdir),
                   "outside the signed form", "nonce")
    doctor = aster("doctor", "--json", cwd=workdir)
    rows = [r for r in json.loads(doctor.stdout) if r["check"].startswith("identity")]
    assert any(r["status"] == "fail" and "nonce" in r["message"] for r in rows), rows


# ── item 7: absurd expiries, deep and huge documents ───────────────────────────────

def test_a_correctly_signed_credential_expiring_at_u64_max_is_shown(workdir):
    root = root_of(workdir)
    cred = credentials.sign(root, "policy", expires_at=U64_MAX, attributes={"aster.role": "reader"})
    write_json(workdir / "forever.cred", cred.to_dict())
    shown = json.loads(ok("trust", "inspect", "forever.cred", "--json", cwd=workdir).stdout)
    assert shown["expires_at"] == U64_MAX and shown["expires"] == "+584554051223-11-09T07:00:15Z"
    assert shown["signature_valid"] is True and shown["expired"] is False
    ok("trust", "verify", "forever.cred", "--root-pubkey", "root.pub", cwd=workdir)
    human = ok("trust", "inspect", "forever.cred", cwd=workdir)
    assert "+584554051223" in human.stdout


@pytest.mark.parametrize("expires_at, needle", [
    (2**64, "expires_at"), (-1, "expires_at"), (int(HUGE_INT[:400]), "expires_at"), (1.5e19, "expires_at"),
])
def test_expiries_out_of_range_are_bad_input(workdir, expires_at, needle):
    doc = credentials.sign(root_of(workdir), "policy", expires_at=FUTURE).to_dict()
    doc["expires_at"] = expires_at
    write_json(workdir / "odd.cred", doc)
    for command in ("inspect", "verify"):
        extra = ("--root-pubkey", "root.pub") if command == "verify" else ()
        assert_clean_error(aster("trust", command, "odd.cred", *extra, cwd=workdir), ExitCode.USAGE, needle)


@pytest.mark.parametrize("expires", ["99999999999d", "999999999999999999999w", "9" * 5000 + "s",
                                     "9999-12-31T23:30:00-05:00", "10000-01-01T00:00:00Z", "0s"])
def test_expiries_past_year_9999_or_overflowing_are_bad_input(workdir, expires):
    assert_rejected_unchanged(workdir, ("trust", "sign", "consumer", "--root-key", "root.key", "--expires", expires,
                                        "--out", "never.cred"), ExitCode.USAGE, "")


def test_the_latest_expiry_we_sign_is_the_end_of_year_9999(workdir):
    ok("trust", "sign", "consumer", "--root-key", "root.key", "--expires", "9999-12-31T23:59:59Z", "--out", "late.cred",
       cwd=workdir)
    shown = json.loads(ok("trust", "inspect", "late.cred", "--json", cwd=workdir).stdout)
    assert shown["expires"] == "9999-12-31T23:59:59Z"


HOSTILE_FILES = {
    "nested.cred": "{\"a\": " + nested_json() + "}",
    "nested-list.cred": nested_json(),
    "hugeint.cred": '{"type": "policy", "expires_at": ' + HUGE_INT + '}',
    "nested.toml": "[[peers]]\nname = \"x\"\nattributes = " + "[" * 1000 + "]" * 1000 + "\n",
    "hugeint.toml": "[[peers]]\nname = \"x\"\nexpires_at = " + HUGE_INT + "\n",
    "binary.cred": b"\xff\xfe{\x00\x81",
    "latin1.cred": "{\"type\": \"policy\", \"attributes\": {\"x\": \"caf\xe9\"}}".encode("latin-1"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_FILES))
def test_hostile_credential_files_are_bad_input_naming_the_file(workdir, name):
    content = HOSTILE_FILES[name]
    path = workdir / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    for args in (("trust", "inspect", name), ("trust", "verify", name, "--root-pubkey", "root.pub")):
        assert_clean_error(aster(*args, cwd=workdir), ExitCode.USAGE, name)


@pytest.mark.parametrize("content", [nested_json(), '{"private_key": ' + nested_json() + "}",
                                     '{"private_key": ' + HUGE_INT + "}", '{"public_key": ' + nested_json() + "}"])
def test_hostile_key_files_are_bad_input_naming_the_file(workdir, content):
    (workdir / "evil.key").write_text(content)
    for args in (("trust", "sign", "consumer", "--root-key", "evil.key", "--out", "x.cred"),
                 ("trust", "keygen", "pubkey", "--in", "evil.key", "--out", "x.pub"),
                 ("trust", "verify", "root.key", "--root-pubkey", "evil.key")):
        assert_rejected_unchanged(workdir, args, ExitCode.USAGE, "evil.key")


# ── item 7: one rule for unreadable input files ────────────────────────────────────

def test_mode_000_inputs_are_bad_input_naming_the_file(workdir):
    ok("trust", "sign", "consumer", "--root-key", "root.key", "--out", "good.cred", cwd=workdir)
    for name in ("root.key", "root.pub", "good.cred"):
        (workdir / name).chmod(0)
    cases = [
        (("trust", "sign", "consumer", "--root-key", "root.key", "--out", "n.cred"), "root.key"),
        (("trust", "keygen", "pubkey", "--in", "root.key", "--out", "n.pub"), "root.key"),
        (("trust", "inspect", "good.cred"), "good.cred"),
        (("trust", "verify", "good.cred", "--root-pubkey", "ab" * 32), "good.cred"),
        (("enroll", "node", "--role", "consumer", "--root-key", "root.key"), "root.key"),
    ]
    for args, needle in cases:
        result = unprivileged(list(args), cwd=workdir, plugins=FAMILIES)
        line = assert_clean_error(result, ExitCode.USAGE, needle)
        assert "permission" in line or "not readable" in line, line
    assert not (workdir / "n.cred").exists() and not (workdir / "n.pub").exists()


# ── item 5: outputs that are not ours to replace ───────────────────────────────────

@pytest.mark.parametrize("args", [
    ("trust", "keygen", "root", "--out", "{target}"),
    ("trust", "keygen", "pubkey", "--in", "root.key", "--out", "{target}"),
    ("trust", "sign", "consumer", "--root-key", "root.key", "--out", "{target}"),
    ("trust", "sign", "producer", "--root-key", "root.key", "--endpoint-id", ENDPOINT, "--out", "{target}"),
])
def test_no_output_replaces_a_file_or_link_it_did_not_create(workdir, args):
    (workdir / "mine.txt").write_text("precious")
    (workdir / "dangling").symlink_to(workdir / "nowhere" / "made-by-aster")
    (workdir / "link").symlink_to(workdir / "mine.txt")
    for target in ("mine.txt", "dangling", "link", "root.key"):
        filled = tuple(a.replace("{target}", target) for a in args)
        assert_rejected_unchanged(workdir, filled, ExitCode.USAGE, "already exists")
    assert not (workdir / "nowhere").exists()
    assert (workdir / "mine.txt").read_text() == "precious"
    forced = tuple(a.replace("{target}", "link") for a in args) + ("--force",)
    ok(*forced, cwd=workdir)
    assert (workdir / "link").is_symlink() and (workdir / "mine.txt").read_text() != "precious"
    assert sorted(p.name for p in workdir.iterdir() if p.name.endswith((".tmp", ".lock"))) == []
