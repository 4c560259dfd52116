"""Broken, clashing, incompatible and misspelled families, installed for real."""

from __future__ import annotations

import json
import os

import pytest

from aster_core.testing import run_aster


@pytest.fixture
def env(bad_plugins):
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(bad_plugins), os.environ.get("PYTHONPATH")]))}


def statuses(env) -> dict[str, dict]:
    result = run_aster(["plugins", "--json"], env=env)
    assert result.returncode == 0, result.stderr
    return {r["distribution"]: r for r in json.loads(result.stdout)}


def test_broken_plugin_is_skipped_with_one_line_and_the_rest_works(env):
    result = run_aster(["--help"], env=env)
    assert result.returncode == 0
    assert "  hello " in result.stdout and "  shadow " in result.stdout
    broken = [line for line in result.stderr.splitlines() if "aster-broken" in line]
    assert len(broken) == 1
    line = broken[0]
    assert "broken = aster_broken.plugin" in line and "0.0.1" in line
    assert "a_dependency_nobody_installed" in line and "pip uninstall aster-broken" in line
    for args in (["--version"], ["plugins"], ["doctor"], ["hello", "Ada"]):
        assert run_aster(args, env=env).returncode in (0, 1), args  # doctor exits 1: it found problems
    assert run_aster(["hello", "Ada"], env=env).stdout.strip() == "Hello, Ada!"


def test_running_the_broken_family_exits_5(env):
    result = run_aster(["broken", "anything"], env=env)
    assert result.returncode == 5
    assert "Error: the 'broken' family (aster-broken 0.0.1) is failed" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_command_names_the_broken_family_that_may_provide_it(env):
    """A family that fails at import never declares its commands (connect's are `call` and `shell`)."""
    result = run_aster(["frobnicate", "x"], env=env)
    assert result.returncode == 5
    assert "no command 'frobnicate'" in result.stderr and "aster-broken 0.0.1" in result.stderr
    assert "pip uninstall aster-broken" in result.stderr


def test_command_module_that_fails_at_run_time_exits_5(env):
    result = run_aster(["lazyfail"], env=env)
    assert result.returncode == 5
    assert "aster-lazyfail" in result.stderr and "pip uninstall aster-lazyfail" in result.stderr
    assert "Traceback" not in result.stderr


def test_builtin_wins_and_the_clash_is_reported(env):
    result = run_aster(["profile", "list"], env=env)
    assert "IMPOSTOR" not in result.stdout
    shadow = statuses(env)["aster-shadow"]
    assert shadow["status"] == "shadowed"
    assert shadow["shadowed"] == {"profile": "built-in command"}
    assert shadow["commands"] == ["shadow"]
    assert run_aster(["shadow"], env=env).stdout.strip() == "shadow ran"


def test_plugin_vs_plugin_clash_gives_the_name_to_neither(env):
    rows = statuses(env)
    assert rows["aster-rival-a"]["shadowed"] == {"rival": "also provided by aster-rival-b"}
    assert rows["aster-rival-b"]["shadowed"] == {"rival": "also provided by aster-rival-a"}
    result = run_aster(["rival"], env=env)
    assert result.returncode == 5
    assert "provided by several plugins" in result.stderr and "ASTER_DISABLE_PLUGINS" in result.stderr
    only_b = run_aster(["rival"], env={**env, "ASTER_DISABLE_PLUGINS": "aster-rival-a"})
    assert only_b.stdout.strip() == "rival b ran"


def test_incompatible_plugin_is_reported_not_loaded(env):
    future = statuses(env)["aster-future"]
    assert future["status"] == "incompatible"
    assert "aster-core >=9.0" in future["error"]
    assert "must not be imported" not in run_aster(["--help"], env=env).stderr


def test_doctor_reports_every_plugin_problem(env):
    result = run_aster(["doctor", "--json"], env=env)
    assert result.returncode == 1
    rows = [r for r in json.loads(result.stdout) if r["source"] == "aster-core" and r["check"].startswith("plugin ")]
    by_check = {r["check"].split()[1]: r for r in rows}
    assert by_check["broken"]["status"] == "fail"
    assert by_check["future"]["status"] == "fail" and "incompatible" in by_check["future"]["message"]
    assert by_check["shadow"]["status"] == "warn"
    assert by_check["rivala"]["status"] == "warn"
    typo = by_check["typo"]
    assert typo["status"] == "fail"
    assert "aster_comands" in typo["message"] and "aster_doctor_checks (missing @hookimpl)" in typo["message"]


def test_strict_mode_turns_problems_into_errors(env):
    result = run_aster(["--strict-plugins", "hello"], env=env)
    assert result.returncode == 5
    assert result.stderr.startswith("Error: plugin ")
    also = run_aster(["hello"], env={**env, "ASTER_STRICT_PLUGINS": "1"})
    assert also.returncode == 5
    clean = run_aster(["--strict-plugins", "hello", "Ada"], env={**env, "ASTER_PLUGINS": "hello"})
    assert clean.returncode == 0 and clean.stdout.strip() == "Hello, Ada!"
