"""Profiles, config.toml and the keyring, through the installed `aster` script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from aster_core.testing import assert_clean_error, run_aster


def config_file(home: Path) -> Path:
    return home / "config.toml"


def keyring_get(profile: str) -> str | None:
    import keyring

    return keyring.get_password("aster", f"root_privkey:{profile}")


def test_create_stores_private_key_only_in_keyring(aster_env):
    result = run_aster(["profile", "create", "prod", "--json"])
    assert result.returncode == 0, result.stderr
    made = json.loads(result.stdout)
    doc = tomllib.loads(config_file(aster_env).read_text())
    assert doc["active_profile"] == "prod"
    assert doc["profiles"]["prod"]["root_pubkey"] == made["root_pubkey"]
    assert set(doc["profiles"]["prod"]) >= {"root_pubkey", "created_at"}
    seed = keyring_get("prod")
    assert seed and len(bytes.fromhex(seed)) == 32
    # the seed really belongs to the public key, and appears in no file under the home
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    pub = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed)).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw)
    assert pub.hex() == made["root_pubkey"]
    for path in aster_env.rglob("*"):
        if path.is_file():
            assert seed not in path.read_text(errors="ignore")
    assert oct(config_file(aster_env).stat().st_mode & 0o777) == "0o600"


def test_first_profile_is_active_and_use_switches(aster_env):
    run_aster(["profile", "create", "dev"])
    run_aster(["profile", "create", "prod"])
    rows = json.loads(run_aster(["profile", "list", "--json"]).stdout)
    assert [(r["name"], r["active"]) for r in rows] == [("dev", True), ("prod", False)]
    assert run_aster(["profile", "use", "prod"]).returncode == 0
    shown = json.loads(run_aster(["profile", "show", "--json"]).stdout)
    assert shown["name"] == "prod" and shown["private_key"] == "in keyring"
    assert json.loads(run_aster(["--profile", "dev", "profile", "show", "--json"]).stdout)["name"] == "dev"
    assert json.loads(run_aster(["profile", "show", "--json"], env={"ASTER_PROFILE": "dev"}).stdout)["name"] == "dev"


def test_show_never_prints_private_material(aster_env):
    run_aster(["profile", "create", "dev"])
    seed = keyring_get("dev")
    for args in (["profile", "show"], ["profile", "show", "--json"], ["profile", "list", "--json"],
                 ["config", "show", "--json"]):
        result = run_aster(args)
        assert seed not in result.stdout + result.stderr


def test_delete_asks_then_removes_keyring_entry(aster_env):
    run_aster(["profile", "create", "dev"])
    run_aster(["profile", "create", "prod"])
    refused = run_aster(["profile", "delete", "dev"], input="")
    assert_clean_error(refused, 2)
    assert keyring_get("dev")
    result = run_aster(["profile", "delete", "dev", "--yes"])
    assert result.returncode == 0
    assert keyring_get("dev") is None
    doc = tomllib.loads(config_file(aster_env).read_text())
    assert "dev" not in doc["profiles"] and doc["active_profile"] == "prod"


def test_edits_keep_unknown_tables_and_keys(aster_env):
    aster_env.mkdir(parents=True, exist_ok=True)
    config_file(aster_env).write_text(
        'future_key = "keep me"\n\n[aster_service]\nenabled = true\nnode_id = "abc"\n\n'
        '[authority]\naddress = "aster1xyz"\nnested = { a = 1, "quote\\"d" = "x\\"y" }\n')
    run_aster(["profile", "create", "dev"])
    run_aster(["profile", "create", "prod"])
    run_aster(["profile", "use", "prod"])
    run_aster(["profile", "delete", "dev", "--yes"])
    doc = tomllib.loads(config_file(aster_env).read_text())
    assert doc["future_key"] == "keep me"
    assert doc["aster_service"] == {"enabled": True, "node_id": "abc"}
    assert doc["authority"] == {"address": "aster1xyz", "nested": {"a": 1, 'quote"d': 'x"y'}}
    assert list(doc["profiles"]) == ["prod"]


def test_concurrent_creates_lose_nothing(aster_env):
    """Two processes creating profiles at once: every profile lands in the file and the keyring."""
    script = ("import sys\nfrom aster_core.main import main\n"
              "for i in range(8):\n"
              "    try:\n        main(['profile', 'create', f'{sys.argv[1]}{i}'])\n"
              "    except SystemExit as e:\n        assert e.code == 0, e.code\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, prefix], env=os.environ.copy(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for prefix in ("a", "b")]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    doc = tomllib.loads(config_file(aster_env).read_text())
    expected = {f"{p}{i}" for p in "ab" for i in range(8)}
    assert set(doc["profiles"]) == expected
    assert all(keyring_get(name) for name in expected)


# -- bad input: one line, a documented code, nothing changed ------------------------------

def test_duplicate_profile(aster_env):
    run_aster(["profile", "create", "dev"])
    before = config_file(aster_env).read_bytes()
    seed = keyring_get("dev")
    assert_clean_error(run_aster(["profile", "create", "dev"]), 2)
    assert config_file(aster_env).read_bytes() == before and keyring_get("dev") == seed


def test_unknown_profile(aster_env):
    run_aster(["profile", "create", "dev"])
    before = config_file(aster_env).read_bytes()
    for args in (["profile", "use", "nope"], ["profile", "show", "nope"], ["profile", "delete", "nope", "--yes"]):
        result = run_aster(args)
        assert_clean_error(result, 4)
        assert "known profiles: dev" in result.stderr
    assert config_file(aster_env).read_bytes() == before


def test_invalid_profile_name(aster_env):
    assert_clean_error(run_aster(["profile", "create", "../escape"]), 2)
    assert not config_file(aster_env).exists()


def test_corrupt_config(aster_env):
    aster_env.mkdir(parents=True)
    config_file(aster_env).write_text("active_profile = \n[profiles\n")
    before = config_file(aster_env).read_bytes()
    for args in (["profile", "list"], ["profile", "create", "x"], ["profile", "use", "x"]):
        result = run_aster(args)
        assert_clean_error(result, 2)
        assert "not valid TOML" in result.stderr
    assert config_file(aster_env).read_bytes() == before
    assert keyring_get("x") is None
    doctor = json.loads(run_aster(["doctor", "--json"]).stdout)
    assert next(r for r in doctor if r["check"] == "config")["status"] == "fail"


def test_unwritable_home(aster_env, tmp_path):
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user that ignores permissions (root)")
        result = run_aster(["profile", "create", "dev"], env={"ASTER_HOME": str(locked / "home")})
        assert_clean_error(result, 1)
        assert keyring_get("dev") is None
    finally:
        locked.chmod(0o700)


def test_unwritable_home_as_root(aster_env, tmp_path):
    """Root ignores permission bits, so make the home a path under a regular file."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = run_aster(["profile", "create", "dev"], env={"ASTER_HOME": str(blocker / "home")})
    assert_clean_error(result, 1)
    assert "ASTER_HOME" in result.stderr
    assert keyring_get("dev") is None
    assert blocker.read_text() == "not a directory"


def test_missing_keyring_backend(aster_env):
    env = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    result = run_aster(["profile", "create", "dev"], env=env)
    assert_clean_error(result, 6)
    assert "keyring" in result.stderr and "--root-key" in result.stderr
    assert not config_file(aster_env).exists()
    doctor = json.loads(run_aster(["doctor", "--json"], env=env).stdout)
    assert next(r for r in doctor if r["check"] == "keyring")["status"] == "fail"


def test_debug_shows_traceback(aster_env):
    result = run_aster(["profile", "show", "nope"], env={"ASTER_DEBUG": "1"})
    assert result.returncode == 4 and "Traceback" in result.stderr
