"""The host as a user meets it: the installed `aster` script in a subprocess (the --help walk in-process)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from aster_core.testing import invoke, run_aster

FAMILY_MODULE_PREFIXES = ("aster_trust.", "aster_enroll.", "aster_contract.", "aster_connect.", "aster_mcp.",
                          "aster_hello.cli", "aster_core.commands")
HEAVY = {"rich", "cryptography", "aster", "mcp", "prompt_toolkit", "keyring", "sqlalchemy"}


_DUMP_MODULES = """
import atexit, json, os, sys
atexit.register(lambda: open(os.environ["DUMP_TO"], "w").write(json.dumps(sorted(sys.modules))))
sys.argv = ["aster", *sys.argv[1:]]
from aster_core.main import main
main()
"""


def imported_modules(*args: str, env=None, tmp=None) -> set[str]:
    """Every module `aster ARGS` has imported by the time it exits.

    (``-X importtime`` misses modules loaded through importlib.import_module,
    which is how the host loads plugins, so read sys.modules instead.)
    """
    import os
    import tempfile

    with tempfile.NamedTemporaryFile("r", suffix=".json") as dump:
        run_env = {**(env or os.environ), "DUMP_TO": dump.name}
        subprocess.run([sys.executable, "-c", _DUMP_MODULES, *args], capture_output=True, text=True,
                       env=run_env, timeout=60)
        return set(json.load(open(dump.name)))


def test_help_lists_builtins_and_families():
    result = run_aster(["--help"])
    assert result.returncode == 0, result.stderr
    for name in ("profile", "config", "plugins", "doctor", "completion", "hello"):
        assert f"  {name} " in result.stdout
    assert result.stderr == ""


def implementation_modules(modules: set[str]) -> list[str]:
    """Family modules other than the tiny plugin modules the host must read."""
    return sorted(m for m in modules if m.startswith(FAMILY_MODULE_PREFIXES) and not m.endswith(".plugin"))


def test_help_imports_no_command_implementation_and_nothing_heavy():
    modules = imported_modules("--help")
    assert "aster_hello.plugin" in modules  # the plugin module itself is read...
    assert implementation_modules(modules) == []  # ...but no command implementation
    assert sorted({m.split(".")[0] for m in modules} & HEAVY) == []
    warm = imported_modules("--help")  # the plugin cache the first start wrote answers: not even pluggy
    assert "aster_core.plugincache" in warm and implementation_modules(warm) == []
    assert sorted({m.split(".")[0] for m in warm} & (HEAVY | {"pluggy"})) == []


def test_version_lists_host_and_families_without_importing_them():
    result = run_aster(["--version"])
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("aster-core ")
    assert any(line.startswith("aster-hello 0.1.0") for line in lines)
    assert "aster_hello.plugin" not in imported_modules("--version")


def test_only_the_command_being_run_is_imported():
    modules = imported_modules("hello", "Ada")
    assert "aster_hello.cli" in modules
    assert not [m for m in modules if m.startswith("aster_core.commands.")]


def test_top_level_completion_lists_names_without_importing_implementations(tmp_path):
    env = {"_ASTER_COMPLETE": "bash_complete", "COMP_WORDS": "aster pro", "COMP_CWORD": "1"}
    result = run_aster([], env=env)
    assert result.stdout.split() == ["plain,profile"] or "profile" in result.stdout
    import os
    modules = imported_modules(env={**os.environ, **env})
    assert implementation_modules(modules) == []


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(shell):
    result = run_aster(["completion", shell])
    assert result.returncode == 0
    assert "_ASTER_COMPLETE" in result.stdout


def test_every_command_help_works():
    """Walk the whole command tree (built-ins and every installed family) and ask each for --help."""
    import click

    from aster_core.main import build_cli

    root = build_cli()
    ctx = click.Context(root)
    paths: list[list[str]] = []

    def walk(group: click.Group, prefix: list[str]) -> None:
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            paths.append(prefix + [name])
            if isinstance(cmd, click.Group):
                walk(cmd, prefix + [name])

    walk(root, [])
    assert ["profile", "create"] in paths and ["hello"] in paths
    for path in paths:  # in-process: the script's start-up is what the imported_modules tests check
        result = invoke([*path, "--help"])
        assert result.returncode == 0, (path, result.stderr)
        assert "Usage: aster " in result.stdout, path


def test_plugins_json_describes_each_family():
    result = run_aster(["plugins", "--json"])
    assert result.returncode == 0
    rows = {r["distribution"]: r for r in json.loads(result.stdout)}
    hello = rows["aster-hello"]
    assert hello["status"] == "loaded" and hello["commands"] == ["hello"]
    assert hello["entry_point"] == "hello = aster_hello.plugin"
    assert set(hello["hooks"]) == {"aster_commands", "aster_config_fields", "aster_doctor_checks",
                                   "aster_shell_commands"}
    assert hello["path"].endswith(".dist-info")


def test_third_party_family_shows_everywhere_without_host_changes():
    assert run_aster(["hello", "Ada"]).stdout.strip() == "Hello, Ada!"
    shown = json.loads(run_aster(["config", "show", "--json"]).stdout)
    greeting = next(r for r in shown if r["name"] == "greeting")
    assert greeting == {**greeting, "owner": "aster-hello", "value": "Hello", "source": "default"}
    doctor = json.loads(run_aster(["doctor", "--json"]).stdout)
    assert any(r["check"] == "hello greeting" and r["source"] == "aster-hello" for r in doctor)


def test_switches_select_and_disable_plugins():
    assert "hello" not in run_aster(["--help"], plugins=[]).stdout
    assert "hello" not in run_aster(["--no-plugins", "--help"]).stdout
    assert "hello" not in run_aster(["--help"], env={"ASTER_DISABLE_PLUGINS": "aster-hello"}).stdout
    assert "hello" not in run_aster(["--help"], env={"ASTER_DISABLE_PLUGINS": "hello"}).stdout
    assert "  hello " in run_aster(["--help"], plugins=["hello"]).stdout
    disabled = run_aster(["hello"], env={"ASTER_DISABLE_PLUGINS": "hello"})
    assert disabled.returncode == 5 and disabled.stderr.startswith("Error: the 'hello' family")
    rows = json.loads(run_aster(["plugins", "--json"], env={"ASTER_DISABLE_PLUGINS": "hello"}).stdout)
    assert next(r for r in rows if r["distribution"] == "aster-hello")["status"] == "disabled"


def test_unknown_command_is_a_usage_error():
    result = run_aster(["no-such-command"])
    assert result.returncode == 2
    assert "Error: No such command 'no-such-command'" in result.stderr
    assert "Traceback" not in result.stderr


def test_click_usage_errors_are_one_line_with_a_hint():
    for args in (["profile", "create"], ["profile", "create", "--bogus", "x"], ["completion", "tcsh"]):
        result = run_aster(args)
        assert result.returncode == 2, args
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and "Hint: see `aster " in lines[0], result.stderr


@pytest.mark.parametrize("width", [20, 40, 80, 120])
def test_the_command_list_is_laid_out_exactly_as_clicks_definition_list(width):
    """`aster --help` writes its command rows without click's text wrapper when none needs it."""
    import click

    from aster_core.main import write_rows

    cases = [[("a", "x"), ("bbbb", "")], [("profile", "Manage profiles."), ("update-service", "Change a service...")],
             [("x" * 31, "a name longer than the first column"), ("y", "z")], [("a", "w " * 60)],
             [("a", "two  spaces")], [("a", "")]]
    for rows in cases:
        theirs, ours = click.HelpFormatter(width=width), click.HelpFormatter(width=width)
        theirs.current_indent = ours.current_indent = 2
        theirs.write_dl(rows)
        write_rows(ours, rows)
        assert ours.getvalue() == theirs.getvalue(), rows


@pytest.mark.parametrize(("text", "limit", "row"), [
    ("Manage root keys and credentials.", 45, "Manage root keys and credentials."),
    ("Sign a credential. It is written next to the key.", 45, "Sign a credential."),
    ("Sign a credential, e.g. a producer's. Then more.", 45, "Sign a credential, e.g. a producer's."),
    ("List every service published under a handle in the registry", 30, "List every service..."),
    ("averyveryverylongwordthatexceedsthelimit and more", 20, "..."),
    ("First paragraph\n\nsecond paragraph.", 45, "First paragraph"),
    ("", 45, ""),
])
def test_short_help_is_the_first_sentence_cut_at_a_word(text, limit, row):
    """`aster --help`'s one row per command (our helper: click's public one is deprecated)."""
    from aster_core.main import short_help

    assert short_help(text, limit) == row and len(row) <= limit
