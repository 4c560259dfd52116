"""Hooks go through pluggy: ordering options, wrappers and contained failures, with
third-party fixture families (tests/core/fixture_plugins/hooks/) installed for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aster_core.host import PluginHost
from aster_core.testing import run_aster
from tests.support.shared import made_once

HOOK_FIXTURES = Path(__file__).parent / "fixture_plugins" / "hooks"
FAILING = "raising,badwrapper,badcommands"


@pytest.fixture(scope="session")
def hook_site(tmp_path_factory) -> Path:
    """The hook fixture families installed with pip (entry points and all) into one folder,
    once for all pytest-xdist workers."""
    projects = sorted(str(p) for p in HOOK_FIXTURES.iterdir() if (p / "pyproject.toml").exists())

    def install(target: Path) -> None:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                        "--target", str(target), *projects], check=True, capture_output=True, timeout=300)

    return made_once(tmp_path_factory, "hook-plugins-site", install)


@pytest.fixture
def env(hook_site) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(hook_site), os.environ.get("PYTHONPATH")]))}


@pytest.fixture
def host_with(hook_site, monkeypatch):
    """An in-process host over the installed families plus the hook fixtures (ASTER_PLUGINS-style selection)."""
    monkeypatch.syspath_prepend(str(hook_site))

    def make(disable: str = FAILING) -> PluginHost:
        monkeypatch.setenv("ASTER_DISABLE_PLUGINS", disable)
        return PluginHost()

    return make


def doctor_rows(env: dict[str, str], **extra: str) -> tuple[subprocess.CompletedProcess, list[dict]]:
    result = run_aster(["doctor", "--json"], env={**env, **extra})
    return result, json.loads(result.stdout)


def test_a_tryfirst_hookimpl_of_a_third_party_family_runs_first(env):
    result, rows = doctor_rows(env, ASTER_DISABLE_PLUGINS=FAILING)
    assert result.stderr == "", result.stderr
    checks = [r["check"] for r in rows]
    # aster-zeta sorts after every other family and the built-in plugin runs first by default:
    # only tryfirst puts its check ahead of aster-core's own
    assert checks[0] == "zeta first" and rows[0]["source"] == "aster-zeta"
    assert checks[1] == "plugins" and rows[1]["source"] == "aster-core"
    # ...and trylast puts aster-aardvark's check, whose name sorts first, after everyone's
    assert checks.index("aardvark last") > checks.index("hello greeting") > checks.index("plugins")


def test_without_ordering_options_the_built_in_plugin_then_families_by_name(host_with):
    sources = [dist for dist, _ in host_with().collect("aster_doctor_checks")]
    plain = [s for s in sources if s not in ("aster-zeta", "aster-aardvark", "aster-watcher")]
    assert plain[0] == "aster-core" and plain == sorted(plain, key=lambda s: (s != "aster-core", s))
    assert sources[0] == "aster-zeta" and sources[-2:] == ["aster-aardvark", "aster-watcher"]


def test_a_hook_wrapper_sees_every_result(env, host_with):
    host = host_with()
    collected = host.collect("aster_doctor_checks")
    from aster_watcher.plugin import SEEN

    # what the wrapper saw: one list per family, the built-in plugin's included, in call order...
    seen = [name for got in SEEN for name in got]
    assert seen == [check.name for _, check in collected if check.name != "watcher saw"]
    assert SEEN[0] == ["zeta first"] and SEEN[-1] == ["aardvark last"]
    assert ["plugins", "home", "config", "keyring"] in SEEN and ["hello greeting"] in SEEN
    # ...and what it added is credited to its own family
    assert collected[-1][0] == "aster-watcher" and collected[-1][1].name == "watcher saw"
    # the same through the command a user runs
    result, rows = doctor_rows(env, ASTER_DISABLE_PLUGINS=FAILING)
    saw = next(r for r in rows if r["check"] == "watcher saw")
    assert saw["source"] == "aster-watcher"
    assert json.loads(saw["message"]) == SEEN


def test_an_old_style_hookwrapper_can_replace_the_result(env):
    result = run_aster(["config", "show", "--json"], env={**env, "ASTER_DISABLE_PLUGINS": FAILING})
    assert result.returncode == 0 and result.stderr == "", result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["watched"]["owner"] == "aster-watcher" and rows["watched"]["value"] == "yes"
    assert rows["greeting"]["owner"] == "aster-hello" and rows["home"]["owner"] == "aster-core"


def test_a_raising_hookimpl_is_contained(env):
    result, rows = doctor_rows(env, ASTER_PLUGINS="raising,hello,zeta")
    assert result.returncode == 1  # doctor found a failure: the raising family
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "aster-raising 0.0.1" in lines[0] and "raising = aster_raising.plugin" in lines[0]
    assert "aster_doctor_checks() raised RuntimeError: doctor checks exploded" in lines[0]
    assert "pip uninstall aster-raising" in lines[0]
    checks = {r["check"]: r for r in rows}
    assert checks["hello greeting"]["status"] == "ok" and checks["zeta first"]["status"] == "ok"
    assert checks["keyring"]["source"] == "aster-core"
    failed = checks["plugin raising (aster-raising 0.0.1)"]
    assert failed["status"] == "fail" and "doctor checks exploded" in failed["message"]
    # its command was declared fine and still runs; the rest of the host too
    assert run_aster(["raising"], env=env).stdout.strip() == "raising ran"
    assert run_aster(["hello", "Ada"], env=env).stdout.strip() == "Hello, Ada!"


def test_a_raising_wrapper_is_contained_and_the_result_kept(env):
    result = run_aster(["config", "show", "--json"], env={**env, "ASTER_PLUGINS": "badwrapper,hello"})
    assert result.returncode == 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "aster-badwrapper" in lines[0], result.stderr
    assert "aster_config_fields() raised RuntimeError: wrapper exploded" in lines[0]
    names = {r["name"]: r["owner"] for r in json.loads(result.stdout)}
    assert names["greeting"] == "aster-hello" and names["home"] == "aster-core"


def test_a_raising_aster_commands_fails_only_that_family(env):
    result = run_aster(["--help"], env=env)
    assert result.returncode == 0
    assert "  zeta " in result.stdout and "  hello " in result.stdout and "badcommands" not in result.stdout
    lines = [line for line in result.stderr.splitlines() if "aster-badcommands" in line]
    assert len(lines) == 1 and "aster_commands() raised RuntimeError: commands exploded" in lines[0]
    broken = run_aster(["badcommands"], env=env)
    assert broken.returncode == 5
    assert "Error: the 'badcommands' family (aster-badcommands 0.0.1) is failed" in broken.stderr
    assert "Traceback" not in broken.stderr
    plugins = {r["distribution"]: r for r in json.loads(run_aster(["plugins", "--json"], env=env).stdout)}
    assert plugins["aster-badcommands"]["status"] == "failed" and plugins["aster-zeta"]["status"] == "loaded"
    assert plugins["aster-watcher"]["hooks"] == ["aster_config_fields", "aster_doctor_checks"]


def test_strict_mode_makes_a_raising_hook_an_error(env):
    result = run_aster(["--strict-plugins", "doctor"], env={**env, "ASTER_PLUGINS": "raising"})
    assert result.returncode == 5
    assert result.stderr.startswith("Error: plugin 'raising' (aster-raising 0.0.1) is failed")
    assert "Traceback" not in result.stderr


def test_a_wrapper_that_is_not_a_generator_is_rejected_like_pluggy_rejects_it():
    from aster_core.hookcall import family_proxy
    from aster_core.hookspecs import hookimpl

    @hookimpl(wrapper=True)
    def aster_doctor_checks():
        return []

    module = type(sys)("not_a_generator")
    module.aster_doctor_checks = aster_doctor_checks
    with pytest.raises(ValueError, match="not a generator function"):
        family_proxy(module, None, "x", lambda owner, message: None)


def test_every_hook_in_hook_names_goes_through_collect(host_with):
    from aster_core.hookspecs import HOOK_NAMES

    host = host_with()
    for hook in HOOK_NAMES:
        implementing = {r.distribution for r in host.records if hook in r.hooks} | {"aster-core"}
        sources = {dist for dist, _ in host.collect(hook)}
        assert sources <= implementing, hook
    assert "aster-registry" in {dist for dist, _ in host.collect("aster_address_resolvers")}
    assert ("aster-hello", "hello") in {(dist, item.name) for dist, item in host.collect("aster_shell_commands")}
    assert not [r for r in host.records if r.status == "failed"]
