"""Root key files: what we write is what the runtime reads, and bad files are refused cleanly."""

from __future__ import annotations

import json
import stat

import pytest

from aster_core.errors import NotFoundError, UsageError
from aster_trust import keys


def test_key_pair_file_round_trips_and_is_private(tmp_path):
    key = keys.generate_root_key()
    path = keys.write_root_key(tmp_path / "root.key", key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert set(doc) == {"private_key", "public_key"}
    assert doc["public_key"] == key.public_hex and len(doc["private_key"]) == 64
    assert keys.load_root_key_file(path) == key
    assert "private" not in repr(key) and key.seed.hex() not in repr(key)


def test_existing_key_file_is_never_replaced_without_force(tmp_path):
    path = keys.write_root_key(tmp_path / "root.key", keys.generate_root_key())
    before = path.read_bytes()
    with pytest.raises(UsageError, match="already exists"):
        keys.write_root_key(path, keys.generate_root_key())
    assert path.read_bytes() == before
    other = keys.generate_root_key()
    keys.write_root_key(path, other, force=True)
    assert keys.load_root_key_file(path) == other


def test_runtime_reads_our_public_key_file(tmp_path):
    from aster.config import _load_pubkey_from_file

    key = keys.generate_root_key()
    pub = keys.write_public_key(tmp_path / "root_pub.key", key.public_key)
    assert pub.read_text().strip() == key.public_hex
    assert _load_pubkey_from_file(str(pub)) == key.public_key
    # and the runtime's JSON form is read by us
    (tmp_path / "pub.json").write_text(json.dumps({"public_key": key.public_hex}))
    assert keys.load_public_key(str(tmp_path / "pub.json")) == key.public_key
    assert keys.load_public_key(key.public_hex.upper()) == key.public_key


@pytest.mark.parametrize("key_path, pub_name", [
    ("root.key", "root.pub"),
    ("my.dir/root.key", "my.dir/root.pub"),
    ("my.dir/root", "my.dir/root.pub"),
    ("a.b.c/prod.root.key", "a.b.c/prod.root.pub"),
])
def test_public_key_path_only_changes_the_file_suffix(tmp_path, key_path, pub_name):
    assert keys.public_key_path_for(tmp_path / key_path) == tmp_path / pub_name


def test_key_pair_checks_both_paths_before_writing_either(tmp_path):
    (tmp_path / "root.pub").write_text("occupied")
    with pytest.raises(UsageError, match="root.pub already exists"):
        keys.write_key_pair(tmp_path / "root.key", keys.generate_root_key())
    assert not (tmp_path / "root.key").exists()
    assert (tmp_path / "root.pub").read_text() == "occupied"


@pytest.mark.parametrize("content, message", [
    ("not json", "not valid JSON"),
    ("[]", "no \"private_key\""),
    ('{"private_key": "abcd"}', "64 hex characters"),
    ('{"private_key": "' + "zz" * 32 + '"}', "not hex"),
    ('{"private_key": "' + "11" * 32 + '", "public_key": "' + "22" * 32 + '"}', "does not belong"),
])
def test_malformed_key_files_are_usage_errors(tmp_path, content, message):
    path = tmp_path / "bad.key"
    path.write_text(content)
    with pytest.raises(UsageError, match=message):
        keys.load_root_key_file(path)


def test_missing_key_file_is_not_found(tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        keys.load_root_key_file(tmp_path / "nope.key")


def test_endpoint_ids_are_validated_and_lowercased():
    assert keys.parse_endpoint_id("AB" * 32) == "ab" * 32
    for bad in ("abcd", "zz" * 32, "ab" * 33, ""):
        with pytest.raises(UsageError, match="endpoint id"):
            keys.parse_endpoint_id(bad)


def test_keyring_key_must_match_the_profile(tmp_path):
    from aster_core.profiles import get_profile
    from aster_core.secrets import store_root_key
    from aster_core.testing import run_aster

    assert run_aster(["profile", "create", "prod"], plugins=[]).returncode == 0
    loaded, name = keys.root_key_from_keyring(None)  # the active profile
    assert name == "prod" and loaded.public_hex == get_profile("prod").root_pubkey
    store_root_key("prod", keys.generate_root_key().seed.hex())
    with pytest.raises(Exception, match="does not match"):
        keys.root_key_from_keyring("prod")
