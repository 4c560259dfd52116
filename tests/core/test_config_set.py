"""`aster config set` / `unset`: declared settings only, values checked, comments and unknown
tables kept, nothing written when anything is refused."""

from __future__ import annotations

import json
import os
import threading
import tomllib

import pytest

from aster_core.testing import assert_clean_error, invoke

HAND_WRITTEN = """\
# my settings, by hand
active_profile = "dev"  # the one I use

[authority] # where the ops authority is
timeout = "9s"  # slow link

[team.extras]
colour = "blue"
"""


@pytest.fixture
def config(aster_env):
    aster_env.mkdir(parents=True, exist_ok=True)
    path = aster_env / "config.toml"
    path.write_text(HAND_WRITTEN + '\n[profiles.dev]\nroot_pubkey = "' + "ab" * 32 + '"\n')
    return path


def ok(*args: str, **kw):
    result = invoke([*args, "--json"], **kw)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_set_then_unset_keeps_comments_and_unknown_tables(config):
    before = config.read_text()
    r = ok("config", "set", "hello.greeting", "Servus")
    assert (r["key"], r["owner"], r["place"], r["value"], r["changed"]) == \
        ("greeting", "aster-hello", "[hello] greeting", "Servus", True)
    text = config.read_text()
    assert 'greeting = "Servus"' in text
    for kept in ("# my settings, by hand", "# the one I use", "# where the ops authority is", "# slow link",
                 "[team.extras]", 'colour = "blue"'):
        assert kept in text, kept
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    hello = invoke(["hello", "Ada"])  # the family reads what was set
    assert "Servus" in hello.stdout, hello
    assert ok("config", "set", "greeting", "Servus")["changed"] is False  # by name too; same value
    r = ok("config", "unset", "greeting")
    assert r["changed"] is True and r["default"] == "Hello"
    # the table it made is gone again, nothing else moved (tomlkit may leave the blank line it added)
    assert config.read_text().rstrip("\n") == before.rstrip("\n")
    assert ok("config", "unset", "greeting")["changed"] is False  # twice: nothing to do, exit 0


def test_values_are_converted_by_the_defaults_type_and_by_family_checks(config):
    assert ok("config", "set", "aster_service.enabled", "off")["value"] is False
    assert "enabled = false" in config.read_text()
    assert ok("config", "set", "authority.timeout", "45s")["value"] == "45s"
    shown = invoke(["config", "show", "--json"])
    rows = {row["name"]: row for row in json.loads(shown.stdout)}
    assert rows["authority.timeout"]["value"] == "45s"
    assert rows["aster_service.enabled"]["value"] is False


@pytest.mark.parametrize("args,code,needle", [
    (["config", "set", "no.such.setting", "x"], 2, "no setting named"),
    (["config", "set", "greting", "x"], 2, "did you mean greeting"),
    (["config", "set", "relay_mode", "disabled"], 2, "ASTER_RELAY_MODE"),          # the runtime's, not ours
    (["config", "set", "network.relay_mode", "disabled"], 2, "aster.toml"),
    (["config", "set", "home", "/tmp/x"], 2, "ASTER_HOME"),                       # environment only
    (["config", "set", "aster_service.enabled", "maybe"], 2, "true or false"),
    (["config", "set", "authority.timeout", "soon"], 2, "duration"),
    (["config", "set", "authority.address", "not an address"], 2, "not an address"),
    (["config", "set", "authority.credential", "missing.identity"], 4, "missing.identity"),
    (["config", "set", "greeting", "two\nlines"], 2, "greeting"),
    (["config", "set", "authority.address", "aster1" + "a" * 40 + "\n"], 2, "control character"),  # before its check
    (["config", "set", "greeting", ""], 2, "cannot be empty"),
    (["config", "set", "active_profile", "nobody"], 4, "nobody"),
    (["config", "set", "greeting", "x", "--profile", "dev"], 2, "not a per-profile setting"),
    (["config", "unset", "no.such.setting"], 2, "no setting named"),
])
def test_refusals_are_one_line_and_leave_the_file_alone(config, tmp_path, args, code, needle):
    before = config.read_bytes()
    assert_clean_error(invoke(args, cwd=tmp_path), code, needle)
    assert config.read_bytes() == before
    assert sorted(p.name for p in config.parent.iterdir() if p.name.startswith(".config")) == []  # no temp file


def test_active_profile_must_exist(config, aster_env):
    with open(config, "a") as fh:
        fh.write('\n[profiles.prod]\nroot_pubkey = "' + "cd" * 32 + '"\n')
    assert ok("config", "set", "active_profile", "prod")["value"] == "prod"
    assert 'active_profile = "prod"  # the one I use' in config.read_text()  # in place, comment kept


def test_a_file_that_is_not_toml_is_refused_untouched(config):
    config.write_text("[authority\naddress = 1\n")
    before = config.read_bytes()
    assert_clean_error(invoke(["config", "set", "authority.timeout", "10s"]), 2, "not valid TOML")
    assert config.read_bytes() == before


def test_a_table_where_a_value_is_is_refused(config):
    config.write_text('hello = "a string, not a table"\n')
    assert_clean_error(invoke(["config", "set", "greeting", "Hi"]), 2, "hello is not a table")
    assert config.read_text() == 'hello = "a string, not a table"\n'


def test_the_environment_still_wins_and_says_so(config):
    r = invoke(["config", "set", "authority.timeout", "30s"], env={"ASTER_AUTHORITY_TIMEOUT": "5s"})
    assert r.returncode == 0 and "ASTER_AUTHORITY_TIMEOUT" in r.stderr and "wins" in r.stderr


def test_a_fresh_home_gets_a_private_file(aster_env):
    assert not aster_env.exists() or not (aster_env / "config.toml").exists()
    ok("config", "set", "authority.timeout", "1m")
    path = aster_env / "config.toml"
    assert path.read_text() == '[authority]\ntimeout = "1m"\n'
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert ok("config", "unset", "authority.timeout")["changed"] is True
    assert path.read_text() == ""


def test_concurrent_writers_both_land(config):
    """Two `config set` of different settings at once: the lock serialises them, neither is lost."""
    from aster_core.configset import declared, set_value

    assert {s.field.name for s in declared()} >= {"authority.timeout", "aster_service.enabled"}  # host loaded once
    errors: list[BaseException] = []

    def write(key: str, value: str) -> None:
        try:
            for _ in range(10):
                set_value(key, value)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=("authority.timeout", "12s")),
               threading.Thread(target=write, args=("aster_service.enabled", "yes"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    text = config.read_text()
    assert 'timeout = "12s"  # slow link' in text and "enabled = true" in text and "# my settings" in text
    assert not [p for p in os.listdir(config.parent) if p.endswith((".tmp", ".lock"))]


def test_a_per_profile_setting_goes_to_the_selected_profile(config):
    """A setting whose section holds {profile} lives in [profiles.<name>]: the active profile by
    default, --profile's otherwise (which must exist); the profile's other keys stay."""
    from types import SimpleNamespace

    from aster_core.configset import set_value, unset_value
    from aster_core.errors import NotFoundError
    from aster_core.hookcall import family_proxy
    from aster_core.hookspecs import ConfigField, hookimpl
    from aster_core.host import get_host, set_host

    field = ConfigField("team.colour", "A per-profile test setting.", section="profiles.{profile}", key="colour",
                        default="blue")
    set_host(None)
    plugin = SimpleNamespace(aster_config_fields=hookimpl(lambda: [field]))
    # registered the way the host registers the built-in plugin (a family's stand-in, no entry point)
    get_host().pm.register(family_proxy(plugin, None, "per-profile-test", lambda *a: None), name="per-profile-test")
    try:
        with open(config, "a") as fh:
            fh.write('\n[profiles.prod]\nroot_pubkey = "' + "cd" * 32 + '"\n')
        r = set_value("team.colour", "red")
        assert (r["profile"], r["place"]) == ("dev", "[profiles.dev] colour")
        assert set_value("team.colour", "green", profile="prod")["place"] == "[profiles.prod] colour"
        with pytest.raises(NotFoundError):
            set_value("team.colour", "grey", profile="nobody")
        doc = tomllib.loads(config.read_text())
        assert doc["profiles"]["dev"] == {"root_pubkey": "ab" * 32, "colour": "red"}
        assert doc["profiles"]["prod"]["colour"] == "green"
        assert unset_value("team.colour", profile="prod")["changed"] is True
        doc = tomllib.loads(config.read_text())
        assert "colour" not in doc["profiles"]["prod"] and doc["profiles"]["prod"]["root_pubkey"] == "cd" * 32
        assert doc["profiles"]["dev"]["colour"] == "red"
    finally:
        set_host(None)


def test_tab_completes_the_names_a_file_may_hold():
    from aster_core.testing import run_aster

    def complete(line: str) -> list[str]:
        words = line.split(" ")
        out = run_aster([], env={"COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1),
                                 "_ASTER_COMPLETE": "bash_complete"})
        return [item.split(",", 1)[1] for item in out.stdout.splitlines()]

    names = complete("aster config set auth")
    assert "authority.address" in names and "authority.timeout" in names
    assert all(n.startswith("auth") for n in names)
    assert "home" not in complete("aster config unset ")  # environment-only: not a key of the file
    assert "greeting" in complete("aster config unset ")
