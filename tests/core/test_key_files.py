"""Machines without a keyring: `profile import` (into the keyring, or a profile that refers to
the key file), `profile export-key`, and `--root-key FILE` with no profile at all.

In-process (``invoke``) with the real file keyring, or with keyring's own 'fail' backend for a
machine that has none.
"""

from __future__ import annotations

import json
import os
import stat
import tomllib
from pathlib import Path

import pytest

from aster_core.testing import assert_clean_error, invoke

NO_KEYRING = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
FAMILIES = ["trust", "enroll"]


def aster(*args: str, env: dict | None = None, cwd: Path | None = None):
    return invoke(list(args), plugins=FAMILIES, env=env, cwd=cwd)


def ok(*args: str, env: dict | None = None, cwd: Path | None = None):
    result = aster(*args, env=env, cwd=cwd)
    assert result.returncode == 0, (args, result.returncode, result.stdout, result.stderr)
    return result


def keyring_seed(profile: str) -> str | None:
    import keyring

    return keyring.get_password("aster", f"root_privkey:{profile}")


@pytest.fixture
def root_key(tmp_path) -> tuple[Path, dict]:
    ok("trust", "keygen", "root", "--out", str(tmp_path / "root.key"))
    path = tmp_path / "root.key"
    return path, json.loads(path.read_text())


def config(home: Path) -> dict:
    return tomllib.loads((home / "config.toml").read_text())


def test_import_into_the_keyring_then_export_the_same_key(root_key, tmp_path, aster_env):
    path, doc = root_key
    made = json.loads(ok("profile", "import", "prod", "--root-key", str(path), "--json").stdout)
    assert made["root_pubkey"] == doc["public_key"] and made["active"] is True
    assert keyring_seed("prod") == doc["private_key"]
    assert "root_key_file" not in config(aster_env)["profiles"]["prod"]  # the keyring holds it
    backup = tmp_path / "prod.key"
    out = json.loads(ok("profile", "export-key", "prod", "--out", str(backup), "--json").stdout)
    assert out["file"] == str(backup) and out["root_pubkey"] == doc["public_key"]
    assert json.loads(backup.read_text()) == doc
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    missing = tmp_path / "no-such-folder" / "prod.key"
    assert_clean_error(aster("profile", "export-key", "prod", "--out", str(missing)), 1, "does not exist")
    # the backup signs as the profile does, with no profile selected at all
    cred = json.loads(ok("trust", "sign", "consumer", "--root-key", str(backup), "--json").stdout)
    assert cred["credential"]["root_pubkey"] == doc["public_key"]


def test_export_key_never_overwrites(root_key, tmp_path):
    path, _ = root_key
    ok("profile", "import", "prod", "--root-key", str(path))
    target = tmp_path / "taken.key"
    target.write_text("mine\n")
    line = assert_clean_error(aster("profile", "export-key", "prod", "--out", str(target)), 2, str(target))
    assert "--force" not in line  # export-key has no way to overwrite; the hint says what to do
    assert target.read_text() == "mine\n"
    link = tmp_path / "link.key"
    link.symlink_to(tmp_path / "nowhere.key")
    assert_clean_error(aster("profile", "export-key", "prod", "--out", str(link)), 2)
    assert not (tmp_path / "nowhere.key").exists()
    assert_clean_error(aster("profile", "export-key", "nope", "--out", str(tmp_path / "n.key")), 4, "nope")
    assert not (tmp_path / "n.key").exists()


def test_no_keyring_import_says_how_to_refer_to_the_file(root_key, aster_env):
    path, _ = root_key
    line = assert_clean_error(aster("profile", "import", "prod", "--root-key", str(path), env=NO_KEYRING), 6)
    assert "--key-file-only" in line
    assert not (aster_env / "config.toml").exists()


def test_key_file_profile_works_without_a_keyring_and_says_so(root_key, tmp_path, aster_env):
    path, doc = root_key
    made = json.loads(ok("profile", "import", "prod", "--root-key", str(path), "--key-file-only", "--json",
                         env=NO_KEYRING, cwd=tmp_path).stdout)
    assert made["key_file"] == str(path.resolve()) and made["keyring"] is None
    assert config(aster_env)["profiles"]["prod"]["root_key_file"] == str(path.resolve())
    assert keyring_seed("prod") is None
    # every use says, in one stderr line, that the key comes from the file
    signed = ok("trust", "sign", "consumer", "--json", env=NO_KEYRING)
    assert json.loads(signed.stdout)["credential"]["root_pubkey"] == doc["public_key"]
    notes = [line for line in signed.stderr.splitlines() if "root key file" in line]
    assert notes == [f"Profile prod uses the root key file {path.resolve()} (no keyring)"], signed.stderr
    enrolled = ok("enroll", "node", "--role", "consumer", "--identity", str(tmp_path / "id.toml"), "-q",
                  env=NO_KEYRING)
    assert "uses the root key file" in enrolled.stderr
    shown = json.loads(ok("profile", "show", "--json", env=NO_KEYRING).stdout)
    assert str(path.resolve()) in shown["private_key"] and "readable" in shown["private_key"]
    exported = tmp_path / "copy.key"
    ok("profile", "export-key", "prod", "--out", str(exported), env=NO_KEYRING)
    assert json.loads(exported.read_text()) == doc
    # deleting the profile needs no keyring and leaves the user's key file alone
    gone = ok("profile", "delete", "prod", "--yes", "--json", env=NO_KEYRING)
    assert json.loads(gone.stdout)["key_file"] == str(path.resolve())
    assert path.exists() and "prod" not in config(aster_env).get("profiles", {})


def test_key_file_profile_whose_file_went_away_or_changed(root_key, tmp_path):
    path, _ = root_key
    ok("profile", "import", "prod", "--root-key", str(path), "--key-file-only", env=NO_KEYRING)
    moved = tmp_path / "moved.key"
    path.rename(moved)
    result = aster("trust", "sign", "consumer", env=NO_KEYRING)
    assert result.returncode == 4 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and str(path) in errors[0] and "Hint:" in errors[0]
    ok("trust", "keygen", "root", "--out", str(path))  # another key at the same path
    result = aster("trust", "sign", "consumer", "--out", str(tmp_path / "c.json"), env=NO_KEYRING)
    assert result.returncode == 1 and "does not match its root_pubkey" in result.stderr
    assert not (tmp_path / "c.json").exists()


@pytest.mark.parametrize("content, code", [
    ('{"private_key": "zz"}', 2),
    ("not json", 2),
    (json.dumps({"private_key": "11" * 32, "public_key": "22" * 32}), 2),
    (None, 4),
])
def test_import_refuses_bad_key_files(tmp_path, aster_env, content, code):
    path = tmp_path / "bad.key"
    if content is not None:
        path.write_text(content)
    for extra in ([], ["--key-file-only"]):
        assert_clean_error(aster("profile", "import", "prod", "--root-key", str(path), *extra), code, str(path))
    assert not (aster_env / "config.toml").exists() and keyring_seed("prod") is None


def test_import_refuses_an_existing_name_and_a_bad_name(root_key, aster_env):
    path, _ = root_key
    ok("profile", "create", "prod")
    before = (aster_env / "config.toml").read_bytes()
    assert_clean_error(aster("profile", "import", "prod", "--root-key", str(path)), 2, "already exists")
    assert_clean_error(aster("profile", "import", "PROD", "--root-key", str(path), "--key-file-only"), 2, "case")
    assert_clean_error(aster("profile", "import", "bad name", "--root-key", str(path)), 2, "invalid profile name")
    assert (aster_env / "config.toml").read_bytes() == before


def test_root_key_with_no_profile_and_no_keyring(root_key, tmp_path, aster_env):
    """The commands that sign take --root-key FILE on a machine with no profile and no keyring."""
    path, doc = root_key
    signed = ok("trust", "sign", "consumer", "--root-key", str(path), "--json", env=NO_KEYRING)
    assert json.loads(signed.stdout)["credential"]["root_pubkey"] == doc["public_key"]
    ok("enroll", "node", "--role", "consumer", "--root-key", str(path), "--identity", str(tmp_path / "id"), "-q",
       env=NO_KEYRING)
    assert not (aster_env / "config.toml").exists()
    # and without --root-key it says what to do, in one line
    assert_clean_error(aster("trust", "sign", "consumer", env=NO_KEYRING), 4, "no active profile")


def test_key_file_field_of_the_wrong_type_is_bad_input(aster_env):
    aster_env.mkdir(parents=True, exist_ok=True)
    (aster_env / "config.toml").write_text('active_profile = "p"\n[profiles.p]\nroot_pubkey = "%s"\n'
                                           "root_key_file = 5\n" % ("ab" * 32))
    assert_clean_error(aster("trust", "sign", "consumer"), 2, "root_key_file")


def test_export_key_of_a_keyring_profile_without_keyring(root_key, tmp_path):
    path, _ = root_key
    ok("profile", "import", "prod", "--root-key", str(path))
    assert_clean_error(aster("profile", "export-key", "prod", "--out", str(tmp_path / "x.key"), env=NO_KEYRING), 6)
    assert not os.path.lexists(tmp_path / "x.key")


def test_doctor_on_a_machine_that_uses_a_key_file(root_key, aster_env):
    """No keyring but every profile uses a key file: the keyring is not needed (warn, not fail);
    a key file others can read is a warning, one that cannot be read a failure."""
    path, _ = root_key

    def checks() -> dict:
        done = invoke(["doctor", "--json"], plugins=[], env=NO_KEYRING)
        return {r["check"]: r for r in json.loads(done.stdout)}

    assert checks()["keyring"]["status"] == "fail"  # no profile at all: a keyring would be needed
    ok("profile", "import", "prod", "--root-key", str(path), "--key-file-only", env=NO_KEYRING)
    found = checks()
    assert found["keyring"]["status"] == "warn" and "key file" in found["keyring"]["message"]
    assert found["config"]["status"] == "ok"
    path.chmod(0o644)
    assert checks()["config"]["status"] == "warn" and "chmod 600" in checks()["config"]["hint"]
    path.unlink()
    assert checks()["config"]["status"] == "fail" and str(path) in checks()["config"]["message"]
