"""`aster trust` as a user runs it (in-process through `invoke`: the same entry point and output), outputs
checked against the runtime's readers; the installed script runs it in tests/install."""

from __future__ import annotations

import json
import stat
import time

from aster_core.durations import parse_expiry, to_epoch

from aster_core.testing import assert_clean_error

from tests.trust.helpers import aster, ok


def test_keygen_root_then_pubkey(tmp_path):
    out = ok("trust", "keygen", "root", "--out", "root.key", "--json", cwd=tmp_path)
    data = json.loads(out.stdout)
    key_file = tmp_path / "root.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert json.loads(key_file.read_text())["public_key"] == data["public_key"]
    ok("trust", "keygen", "pubkey", "--in", "root.key", "--out", "root_pub.key", cwd=tmp_path)
    assert (tmp_path / "root_pub.key").read_text().strip() == data["public_key"]


def test_keygen_root_refuses_to_replace_then_force_replaces(tmp_path):
    ok("trust", "keygen", "root", "--out", "root.key", cwd=tmp_path)
    before = (tmp_path / "root.key").read_bytes()
    assert_clean_error(aster("trust", "keygen", "root", "--out", "root.key", cwd=tmp_path), 2, "already exists")
    assert (tmp_path / "root.key").read_bytes() == before
    ok("trust", "keygen", "root", "--out", "root.key", "--force", cwd=tmp_path)
    assert (tmp_path / "root.key").read_bytes() != before
    assert stat.S_IMODE((tmp_path / "root.key").stat().st_mode) == 0o600


def test_walkthrough_out_key_writes_both_files_and_prints_both_paths(tmp_path):
    (tmp_path / "keys.d").mkdir()
    out = ok("trust", "keygen", "--out-key", "keys.d/root.key", cwd=tmp_path)
    assert "keys.d/root.key" in out.stdout and "keys.d/root.pub" in out.stdout
    pair = json.loads((tmp_path / "keys.d/root.key").read_text())
    assert (tmp_path / "keys.d/root.pub").read_text().strip() == pair["public_key"]


def test_sign_consumer_as_in_the_seed(tmp_path):
    ok("trust", "keygen", "root", "--out", "root.key", cwd=tmp_path)
    ok("trust", "sign", "consumer", "--root-key", "root.key", "--type", "policy", "--attr", "team=billing",
       "--attr", "tier=premium", "--expires", "90d", "--out", "consumer.token", cwd=tmp_path)
    token = tmp_path / "consumer.token"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    doc = json.loads(token.read_text())
    assert doc["type"] == "policy" and doc["nonce"] is None and doc["endpoint_id"] is None
    assert doc["attributes"] == {"team": "billing", "tier": "premium"}
    assert abs(doc["expires_at"] - (time.time() + 90 * 86400)) < 60


def test_sign_default_expiry_is_30_days_and_iso_without_zone_is_utc(tmp_path):
    ok("trust", "keygen", "root", "--out", "root.key", cwd=tmp_path)
    doc = json.loads(ok("trust", "sign", "consumer", "--root-key", "root.key", cwd=tmp_path).stdout)
    assert abs(doc["expires_at"] - (time.time() + 30 * 86400)) < 60
    doc = json.loads(ok("trust", "sign", "consumer", "--root-key", "root.key", "--expires", "2099-12-31T23:59:59",
                        cwd=tmp_path).stdout)
    assert doc["expires_at"] == to_epoch(parse_expiry("2099-12-31T23:59:59Z"))


def test_sign_ott_carries_a_fresh_nonce(tmp_path):
    ok("trust", "keygen", "root", "--out", "root.key", cwd=tmp_path)
    nonces = {json.loads(ok("trust", "sign", "consumer", "--root-key", "root.key", "--type", "ott",
                            cwd=tmp_path).stdout)["nonce"] for _ in range(2)}
    assert len(nonces) == 2 and all(len(n) == 64 for n in nonces)


def test_sign_producer_and_inspect_it(tmp_path):
    ok("trust", "keygen", "root", "--out", "root.key", cwd=tmp_path)
    ok("trust", "sign", "producer", "--root-key", "root.key", "--endpoint-id", "AB" * 32, "--attr", "zone=eu",
       "--out", "producer.cred", cwd=tmp_path)
    info = json.loads(ok("trust", "inspect", "producer.cred", "--json", cwd=tmp_path).stdout)
    assert info["type"] == "producer" and info["endpoint_id"] == "ab" * 32
    assert info["signature_valid"] and info["valid"] and info["attributes"] == {"zone": "eu"}
    human = ok("trust", "inspect", "producer.cred", cwd=tmp_path).stdout
    assert "producer" in human and "verifies" in human and "zone=eu" in human


def test_sign_with_the_profile_key_from_the_keyring(tmp_path):
    created = ok("profile", "create", "prod", "--json", cwd=tmp_path)
    root_pubkey = json.loads(created.stdout)["root_pubkey"]
    doc = json.loads(ok("trust", "sign", "consumer", "--attr", "aster.role=reader", cwd=tmp_path).stdout)
    assert doc["root_pubkey"] == root_pubkey
    (tmp_path / "c.json").write_text(json.dumps(doc))
    ok("trust", "verify", "c.json", "--root-pubkey", root_pubkey, cwd=tmp_path)


def test_verify_exit_codes(tmp_path):
    ok("trust", "keygen", "--out-key", "root.key", cwd=tmp_path)
    ok("trust", "keygen", "--out-key", "other.key", cwd=tmp_path)
    ok("trust", "sign", "consumer", "--root-key", "root.key", "--endpoint-id", "cd" * 32, "--out", "c.json",
       cwd=tmp_path)
    ok("trust", "verify", "c.json", "--root-pubkey", "root.pub", cwd=tmp_path)
    ok("trust", "verify", "c.json", "--root-pubkey", "root.pub", "--endpoint-id", "cd" * 32, cwd=tmp_path)
    wrong_root = aster("trust", "verify", "c.json", "--root-pubkey", "other.pub", cwd=tmp_path)
    assert wrong_root.returncode == 1 and "another root key" in wrong_root.stderr
    assert "Traceback" not in wrong_root.stderr
    wrong_node = aster("trust", "verify", "c.json", "--root-pubkey", "root.pub", "--endpoint-id", "ef" * 32,
                       "--json", cwd=tmp_path)
    assert wrong_node.returncode == 1
    assert json.loads(wrong_node.stdout)["binding_ok"] is False  # --json stays clean JSON on stdout
    doc = json.loads((tmp_path / "c.json").read_text())
    doc["attributes"] = {"aster.role": "admin"}
    (tmp_path / "forged.json").write_text(json.dumps(doc))
    forged = aster("trust", "verify", "forged.json", "--root-pubkey", "root.pub", cwd=tmp_path)
    assert forged.returncode == 1 and "signature does not verify" in forged.stderr


def test_verify_refuses_an_expired_credential(tmp_path):
    ok("trust", "keygen", "--out-key", "root.key", cwd=tmp_path)
    ok("trust", "sign", "consumer", "--root-key", "root.key", "--expires", "1s", "--out", "c.json", cwd=tmp_path)
    time.sleep(1.2)
    result = aster("trust", "verify", "c.json", "--root-pubkey", "root.pub", cwd=tmp_path)
    assert result.returncode == 1 and "expired" in result.stderr


def test_keygen_pubkey_of_a_profile_needs_no_keyring(tmp_path, monkeypatch):
    pub = json.loads(ok("profile", "create", "prod", "--json", cwd=tmp_path).stdout)["root_pubkey"]
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")  # no keyring at all
    ok("trust", "keygen", "pubkey", "--out", "prod.pub", cwd=tmp_path)
    assert (tmp_path / "prod.pub").read_text().strip() == pub


def test_keygen_twice_never_touches_the_profile_or_its_keyring_key(tmp_path, aster_env):
    """The released CLI's second root keygen silently replaced the profile's public key. Ours:
    `profile create` twice is refused, and no form of `trust keygen` (run twice, with and
    without --force) changes config.toml or the profile's keyring entry."""
    import keyring

    pub = json.loads(ok("profile", "create", "prod", "--json", cwd=tmp_path).stdout)["root_pubkey"]
    config = aster_env / "config.toml"
    before = config.read_bytes()
    seed = keyring.get_password("aster", "root_privkey:prod")
    assert_clean_error(aster("profile", "create", "prod", cwd=tmp_path), 2, "prod")
    for _ in range(2):
        aster("trust", "keygen", "root", "--out", "root.key", cwd=tmp_path)
        aster("trust", "keygen", "--out-key", "pair.key", cwd=tmp_path)
        aster("trust", "keygen", "pubkey", "--out", "prod.pub", cwd=tmp_path)
    ok("trust", "keygen", "root", "--out", "root.key", "--force", cwd=tmp_path)
    ok("trust", "keygen", "--out-key", "pair.key", "--force", cwd=tmp_path)
    assert config.read_bytes() == before
    assert keyring.get_password("aster", "root_privkey:prod") == seed
    assert json.loads(ok("profile", "show", "--json", cwd=tmp_path).stdout)["root_pubkey"] == pub
    assert (tmp_path / "prod.pub").read_text().strip() == pub
    assert json.loads((tmp_path / "root.key").read_text())["public_key"] != pub
