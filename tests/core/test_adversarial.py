"""The host under attack (issue 10): racing processes, shared and plaintext keyrings, hostile
config files, symlinks, locks left behind, secrets on screen, unreadable files.

Everything runs the installed ``aster`` (or its ``main`` in racing processes) against the real
file keyring tests/conftest.py sets up; nothing is mocked.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from aster_core.errors import ExitCode
from aster_core.testing import assert_clean_error, run_aster as _run_aster

from tests.core.attack import HUGE_INT, env_without, lock_files, nested_toml, run_env, unprivileged


#: Only the families these attacks involve: other families' work in progress stays out of the way.
FAMILIES = ["trust", "enroll"]


def run_aster(args, **kwargs):
    kwargs.setdefault("plugins", FAMILIES)
    return _run_aster(args, **kwargs)


def run_env_f(args, env):
    return run_env(args, env, plugins=FAMILIES)


def keyring_get(profile: str) -> str | None:
    import keyring

    return keyring.get_password("aster", f"root_privkey:{profile}")


def config(home: Path) -> dict:
    return tomllib.loads((home / "config.toml").read_text())


def public_of(seed_hex: str) -> str:
    from aster_trust.keys import public_key_of

    return public_key_of(bytes.fromhex(seed_hex)).hex()


def assert_keys_agree(home: Path, names: set[str]) -> None:
    """Every profile in config.toml has its own key in the keyring, and every name of
    ``names`` has a keyring entry exactly when config.toml records it."""
    profiles = config(home).get("profiles", {}) if (home / "config.toml").exists() else {}
    for name, entry in profiles.items():
        seed = keyring_get(name)
        assert seed, f"profile {name} is in config.toml but its key is gone"
        assert public_of(seed) == entry["root_pubkey"], f"profile {name}: the keyring holds another key"
    for name in names:
        assert (keyring_get(name) is not None) == (name in profiles), (name, sorted(profiles))


# ── item 2: keyring changes under the config lock ──────────────────────────────────

RACER = textwrap.dedent("""
    import sys
    from aster_core.main import main
    op, name, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    allowed = {"create": {0, 2}, "delete": {0, 4}, "many": {0}}[op]
    for i in range(rounds):
        if op == "create":
            args = ["profile", "create", name]
        elif op == "delete":
            args = ["profile", "delete", name, "--yes"]
        else:
            args = ["profile", "create", f"{name}{i}"]
        try:
            main(args)
        except SystemExit as exc:
            code = exc.code or 0
        if code not in allowed:
            print(f"{op} round {i}: exit {code}", file=sys.stderr)
            sys.exit(3)
""")


def test_create_and_delete_of_one_profile_race_without_losing_keys(aster_env):
    """20 rounds of `create X` racing `delete X` (and a third process creating other
    profiles): afterwards config.toml and the keyring agree, and no other profile lost its key."""
    assert run_aster(["profile", "create", "keep"]).returncode == 0
    kept = keyring_get("keep")
    procs = [subprocess.Popen([sys.executable, "-c", RACER, op, name, "20"], env=os.environ.copy(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for op, name in (("create", "X"), ("delete", "X"), ("many", "other"))]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    assert keyring_get("keep") == kept
    others = {f"other{i}" for i in range(20)}
    assert others <= set(config(aster_env)["profiles"])
    assert_keys_agree(aster_env, {"X", "keep", *others})
    assert lock_files(aster_env) == []


# ── item 3: names that collide after case folding; an entry already in the keyring ─

def test_names_differing_only_by_case_are_refused(aster_env):
    assert run_aster(["profile", "create", "Prod"]).returncode == 0
    seed, before = keyring_get("Prod"), (aster_env / "config.toml").read_bytes()
    for name in ("prod", "PROD", "pRoD"):
        assert_clean_error(run_aster(["profile", "create", name]), ExitCode.USAGE, "only by case")
    assert keyring_get("Prod") == seed and (aster_env / "config.toml").read_bytes() == before


def test_a_key_already_in_the_keyring_is_never_replaced(aster_env, tmp_path):
    """Two homes share one keyring (or a backend folds names): the second `create prod`
    finds the first one's key and refuses instead of replacing it."""
    assert run_aster(["profile", "create", "prod"]).returncode == 0
    seed = keyring_get("prod")
    other_home = tmp_path / "second-home"
    result = run_aster(["profile", "create", "prod"], env={"ASTER_HOME": str(other_home)})
    assert_clean_error(result, ExitCode.USAGE, "already holds a root key", "keyring del")
    assert keyring_get("prod") == seed
    assert not (other_home / "config.toml").exists()


# ── item 4: no plaintext keyring unless chosen; doctor's round trip; bad backends ─

def _implicit_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a headless machine with keyrings.alt importable and nothing selected."""
    return env_without("PYTHON_KEYRING_BACKEND", XDG_CONFIG_HOME=str(tmp_path / "xdg-config"))


def test_plaintext_backend_is_never_chosen_implicitly(aster_env, tmp_path):
    import keyring.backend

    assert any(type(b).__name__ == "PlaintextKeyring" for b in keyring.backend.get_all_keyring()), \
        "the attack needs keyrings.alt's plaintext backend importable"
    env = _implicit_env(tmp_path)
    line = assert_clean_error(run_env_f(["profile", "create", "dev"], env), ExitCode.KEYRING, "no usable OS keyring")
    assert "keyrings.alt" not in line and "Plaintext" not in line  # hints never recommend a plaintext file
    assert not (aster_env / "config.toml").exists()
    keyring_file = Path(os.environ["XDG_DATA_HOME"]) / "python_keyring" / "keyring_pass.cfg"
    assert not keyring_file.exists() or "root_5fprivkey" not in keyring_file.read_text()
    rows = json.loads(run_env_f(["doctor", "--json"], env).stdout)
    row = next(r for r in rows if r["check"] == "keyring")
    assert row["status"] == "fail" and "keyrings.alt" not in (row["hint"] or "")


def test_an_explicit_plaintext_backend_is_said_plainly(aster_env):
    result = run_aster(["profile", "create", "dev"])
    assert result.returncode == 0, result.stderr
    assert "plaintext file" in result.stderr and "keyring_pass.cfg" in result.stderr
    assert "PLAINTEXT" in result.stdout and "OS keyring" not in result.stdout.replace("not an OS keyring", "")
    made = run_aster(["profile", "create", "ops", "--json"])
    assert "plaintext file" in made.stderr
    assert json.loads(made.stdout)["plaintext_keyring"].endswith("keyring_pass.cfg")
    # commands that store nothing say nothing about it
    assert "plaintext" not in run_aster(["profile", "list"]).stderr


def test_doctor_does_a_real_round_trip(aster_env):
    keyring_file = Path(os.environ["XDG_DATA_HOME"]) / "python_keyring" / "keyring_pass.cfg"
    rows = json.loads(run_aster(["doctor", "--json"]).stdout)
    row = next(r for r in rows if r["check"] == "keyring")
    assert row["status"] == "warn" and "store/read/delete ok" in row["message"] and "PLAINTEXT" in row["message"]
    assert keyring_file.exists(), "the probe went through the real keyring file"
    assert "doctor" not in keyring_file.read_text(), "the probe entry was deleted again"


LOCKED_BACKEND = textwrap.dedent("""
    from keyring.backend import KeyringBackend
    from keyring.errors import KeyringLocked


    class Keyring(KeyringBackend):
        \"\"\"A collection that stays locked (what a locked Secret Service answers).\"\"\"
        priority = 5

        def get_password(self, service, username):
            raise KeyringLocked("Failed to unlock the collection!")

        def set_password(self, service, username, password):
            raise KeyringLocked("Failed to unlock the collection!")

        def delete_password(self, service, username):
            raise KeyringLocked("Failed to unlock the collection!")
""")


def test_a_locked_keyring_is_its_own_failure(aster_env, tmp_path):
    """A locked keyring (stood in for by a backend that answers as a locked Secret Service
    collection does: no D-Bus session here) gets its own message and hint, not 'install one'."""
    (tmp_path / "lockedring.py").write_text(LOCKED_BACKEND)
    env = {"PYTHON_KEYRING_BACKEND": "lockedring.Keyring", "PYTHONPATH": str(tmp_path)}
    line = assert_clean_error(run_aster(["profile", "create", "dev"], env=env), ExitCode.KEYRING, "locked")
    assert "unlock" in line.split("Hint:")[1]
    rows = json.loads(run_aster(["doctor", "--json"], env=env).stdout)
    row = next(r for r in rows if r["check"] == "keyring")
    assert row["status"] == "fail" and "locked" in row["message"] and "unlock" in row["hint"]
    assert not (aster_env / "config.toml").exists()


@pytest.mark.parametrize("value", ["no.such.Backend", "nonsense", "keyring.backends.fail.NoSuchClass",
                                   "keyring.backends.SecretService.Keyring", ""])
def test_an_unusable_keyring_backend_setting_is_exit_6(aster_env, value):
    env = {"PYTHON_KEYRING_BACKEND": value, "DBUS_SESSION_BUS_ADDRESS": ""}
    assert_clean_error(run_aster(["profile", "create", "dev"], env=env), ExitCode.KEYRING, "PYTHON_KEYRING_BACKEND")
    rows = json.loads(run_aster(["doctor", "--json"], env=env).stdout)
    assert next(r for r in rows if r["check"] == "keyring")["status"] == "fail"
    assert not (aster_env / "config.toml").exists()


# ── item 6: no digit of a secret on screen ─────────────────────────────────────────

def test_config_show_shows_nothing_of_secrets(aster_env, tmp_path):
    secret = bytes(range(200, 232))
    cred = tmp_path / "zq-credential-xv.json"
    env = {"ASTER_SECRET_KEY": base64.b64encode(secret).decode(), "ASTER_ENROLLMENT_CREDENTIAL": str(cred),
           "ASTER_ENROLLMENT_CREDENTIAL_IID": "iid-token-123456789"}
    shown = run_aster(["config", "show"], env=env).stdout + run_aster(["config", "show", "--json"], env=env).stdout
    for text in (secret.hex(), base64.b64encode(secret).decode(), "iid-token-123456789"):
        for i in range(0, len(text) - 3):
            assert text[i:i + 4] not in shown, f"{text[i:i + 4]!r} of a secret is on screen"
    assert "zq-credential-xv" not in shown and "json" not in shown.replace('"', "")
    rows = {r["name"]: r for r in json.loads(run_aster(["config", "show", "--json"], env=env).stdout)}
    assert rows["secret_key"]["value"] == rows["enrollment_credential_iid"]["value"]  # one mask, no length


# ── item 7: config values of the wrong type, deep or huge documents ─────────────────

#: config.toml texts, and whether `config show` (which reads only active_profile of the
#: profiles) must refuse them too.
BAD_CONFIGS = {
    "profile-not-a-table": ('active_profile = "dev"\n[profiles]\ndev = "x"\n', False),
    "active-profile-number": ('active_profile = 5\n[profiles.dev]\nroot_pubkey = "' + "ab" * 32 + '"\n', True),
    "root-pubkey-number": ('active_profile = "dev"\n[profiles.dev]\nroot_pubkey = 5\n', False),
    "profiles-a-list": ('active_profile = "dev"\nprofiles = [1, 2]\n', False),
    "nested-1000": (nested_toml(), True),
    "huge-integer": (f"big = {HUGE_INT}\n", True),
}
COMMANDS = [
    ("profile", "list"), ("profile", "show"), ("profile", "show", "dev"), ("profile", "use", "dev"),
    ("profile", "create", "new"), ("profile", "delete", "dev", "--yes"),
    ("trust", "keygen", "pubkey", "--out", "p.pub"), ("trust", "sign", "consumer"),
    ("enroll", "node", "--role", "consumer"),
]


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_config_of_the_wrong_shape_is_bad_input(aster_env, tmp_path, case):
    aster_env.mkdir(parents=True, exist_ok=True)
    path = aster_env / "config.toml"
    text, show_refuses = BAD_CONFIGS[case]
    path.write_text(text)
    before = path.read_bytes()
    for args in COMMANDS:
        result = run_aster(list(args), cwd=tmp_path)
        assert_clean_error(result, ExitCode.USAGE, "config.toml")
    shown = run_aster(["config", "show"])
    if show_refuses:
        assert_clean_error(shown, ExitCode.USAGE, "config.toml")
    else:
        assert shown.returncode == 0, shown.stderr
    assert path.read_bytes() == before
    assert keyring_get("new") is None
    assert not (tmp_path / "p.pub").exists() and not (tmp_path / ".aster-identity").exists()
    rows = json.loads(run_aster(["doctor", "--json"]).stdout)
    failed = [r for r in rows if r["status"] == "fail"]
    assert any(r["check"] == "config" for r in failed)
    assert not any("bug" in (r["hint"] or "") for r in rows), rows


def test_a_runtime_toml_too_deep_or_too_big_is_bad_input(aster_env, tmp_path):
    for name, text in (("deep.toml", nested_toml()), ("big.toml", f"[network]\nhook_timeout_ms = {HUGE_INT}\n"),
                       ("typed.toml", "[network]\nsecret_key = 5\n")):
        (tmp_path / name).write_text(text)
        assert_clean_error(run_aster(["config", "show", "--file", str(tmp_path / name)]), ExitCode.USAGE, name)


# ── item 7: one rule for unreadable input files ────────────────────────────────────

def test_a_mode_000_file_is_bad_input_everywhere(aster_env, tmp_path):
    """Every command reading a file it may not read exits 2 and names the file (bound by
    permission bits even when the suite runs as root)."""
    secret = tmp_path / "secret.toml"
    secret.write_text("[network]\n")
    secret.chmod(0)
    result = unprivileged(["config", "show", "--file", str(secret)], plugins=[])
    assert_clean_error(result, ExitCode.USAGE, str(secret))
    aster_env.mkdir(parents=True, exist_ok=True)
    cfg = aster_env / "config.toml"
    cfg.write_text('active_profile = "dev"\n')
    cfg.chmod(0)
    for args in (["profile", "list"], ["config", "show"], ["profile", "create", "dev"], ["profile", "use", "dev"]):
        assert_clean_error(unprivileged(args, plugins=[]), ExitCode.USAGE, str(cfg), "permission")
    assert keyring_get("dev") is None


# ── item 12: symlinks followed, comments kept, nothing left beside the file ─────────

COMMENTED = textwrap.dedent("""\
    # operator settings: do not lose this line
    active_profile = "" # set by aster

    # the registry
    [aster_service] # mine
    enabled = true
    node_id = "abc" # keep
""")


def test_writes_follow_a_symlinked_config_and_keep_comments(aster_env, tmp_path):
    real = tmp_path / "dotfiles" / "aster-config.toml"
    real.parent.mkdir()
    real.write_text(COMMENTED)
    aster_env.mkdir(parents=True, exist_ok=True)
    link = aster_env / "config.toml"
    link.symlink_to(real)
    for args in (["profile", "create", "dev"], ["profile", "create", "prod"], ["profile", "use", "prod"],
                 ["profile", "delete", "dev", "--yes"]):
        assert run_aster(args).returncode == 0, args
        assert link.is_symlink() and os.readlink(link) == str(real)
        text = real.read_text()
        for line in ("# operator settings: do not lose this line", "# the registry", "[aster_service] # mine",
                     'node_id = "abc" # keep', "# set by aster"):
            assert line in text, (args, text)
    doc = tomllib.loads(real.read_text())
    assert doc["active_profile"] == "prod" and list(doc["profiles"]) == ["prod"]
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert lock_files(aster_env, real.parent) == []
    assert [p.name for p in real.parent.iterdir()] == ["aster-config.toml"]  # no temp file either


def test_a_dangling_lock_symlink_is_refused(aster_env, tmp_path):
    aster_env.mkdir(parents=True, exist_ok=True)
    bait = tmp_path / "elsewhere" / "created-by-aster"
    (aster_env / "config.toml.lock").symlink_to(bait)
    result = run_aster(["profile", "create", "dev"])
    assert_clean_error(result, ExitCode.USAGE, "config.toml.lock", "symbolic link")
    assert not bait.exists() and not bait.parent.exists()
    assert not (aster_env / "config.toml").exists() and keyring_get("dev") is None


def test_no_lock_file_is_left_behind(aster_env, tmp_path):
    for args in (["profile", "create", "dev"], ["profile", "create", "ops"], ["profile", "use", "ops"],
                 ["profile", "delete", "dev", "--yes"], ["doctor"],
                 ["trust", "keygen", "root", "--out", str(tmp_path / "r.key")]):
        run_aster(args, cwd=tmp_path)
    assert lock_files(aster_env, tmp_path) == []
    assert sorted(p.name for p in aster_env.iterdir()) == ["cache", "config.toml"]
    assert [p.name for p in (aster_env / "cache").iterdir()] == ["plugins.marshal"]  # the plugin cache, no temp file


def test_a_lock_file_left_by_a_killed_writer_is_reused_and_removed(aster_env):
    aster_env.mkdir(parents=True, exist_ok=True)
    stale = aster_env / "config.toml.lock"
    stale.write_text("")
    assert run_aster(["profile", "create", "dev"]).returncode == 0
    assert not stale.exists()


# ── item 14: fish completion keeps commas; start-up stays lean ──────────────────────

@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed (apt-get install fish)")
def test_fish_completion_descriptions_keep_their_commas(aster_env, tmp_path):
    script = tmp_path / "aster.fish"
    script.write_text(run_aster(["completion", "fish"]).stdout)
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
           "ASTER_PLUGINS": ",".join(FAMILIES)}
    out = subprocess.run(["fish", "--no-config", "-c", f"source {script}; complete -C 'aster '"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    rows = dict(line.split("\t", 1) for line in out.stdout.splitlines() if "\t" in line)
    assert rows["completion"] == "Print the shell completion script (bash, zsh or fish)."
    assert rows["enroll"] == "Enroll nodes: node key, signed credential, .aster-identity."


def test_help_and_reads_never_import_tomlkit(aster_env):
    probe = ("import sys\nfrom aster_core.main import main\n"
             "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
             "sys.stderr.write('TOMLKIT' if 'tomlkit' in sys.modules else 'LEAN')\n")
    run_aster(["profile", "create", "dev"])
    for args in (["--help"], ["profile", "list"], ["config", "show"], ["profile", "show"]):
        out = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=60)
        assert out.stderr.endswith("LEAN"), (args, out.stderr[-200:])
