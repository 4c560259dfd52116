"""Shell completion of values: profile names (`aster profile use <Tab>`, `--profile <Tab>`) from
config.toml and ids from the cache the listing commands write, in bash, zsh and fish, driven by
the real completion variables (`_ASTER_COMPLETE=bash_complete`, ...) through the entry point.
A Tab never dials anything: the authority named here does not exist."""

from __future__ import annotations

import json
import os
import time

import pytest

from aster_core import completions
from aster_core.testing import invoke, run_aster

NOWHERE = {"ASTER_AUTHORITY_ADDR": "ab" * 32, "ASTER_AUTHORITY_CREDENTIAL": "/nonexistent"}


def complete(shell: str, words: str, *, plugins=None, env=None) -> list[str]:
    """The values ``aster`` offers for the last word of ``words`` in ``shell``."""
    parts = words.split(" ")
    full = {**(env or {}), "_ASTER_COMPLETE": f"{shell}_complete", "COMP_WORDS": words}
    full["COMP_CWORD"] = parts[-1] if shell == "fish" else str(len(parts) - 1)
    result = invoke([], plugins=plugins, env=full)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    lines = result.stdout.splitlines()
    if shell == "zsh":  # type, value, help: three lines each
        return [lines[i + 1] for i in range(0, len(lines), 3) if lines[i] == "plain"]
    return [line.split(",", 1)[1].split("\t")[0] for line in lines if line.startswith("plain,")]  # fish: value<TAB>help


@pytest.fixture
def three_profiles(aster_env):
    for name in ("dev", "prod", "prod-eu"):
        assert invoke(["profile", "create", name]).returncode == 0


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_profile_names(three_profiles, shell):
    assert complete(shell, "aster profile use ") == ["dev", "prod", "prod-eu"]
    assert complete(shell, "aster profile use pr") == ["prod", "prod-eu"]
    assert complete(shell, "aster profile delete d") == ["dev"]
    assert complete(shell, "aster profile export-key prod-") == ["prod-eu"]
    assert complete(shell, "aster --profile p") == ["prod", "prod-eu"]
    assert complete(shell, "aster trust sign consumer --profile d", plugins=["trust"]) == ["dev"]
    assert complete(shell, "aster enroll node --profile ", plugins=["trust", "enroll"]) == ["dev", "prod", "prod-eu"]


def test_profile_names_in_the_installed_script(three_profiles):
    """The same through the real script and a real environment (bash's form)."""
    done = run_aster([], env={"_ASTER_COMPLETE": "bash_complete", "COMP_WORDS": "aster profile use p",
                              "COMP_CWORD": "3"})
    assert done.returncode == 0 and done.stdout.splitlines() == ["plain,prod", "plain,prod-eu"], done


def test_no_config_or_a_broken_one_offers_nothing_quietly(aster_env):
    assert complete("bash", "aster profile use ") == []
    aster_env.mkdir(parents=True, exist_ok=True)
    (aster_env / "config.toml").write_text("this is [not toml\n")
    assert complete("bash", "aster profile use ") == []


def of_authority(scope: str, address: str | None = None) -> str:
    """Where the authority's list commands keep ``scope``'s ids for the authority at
    ``address`` (None: the configured one)."""
    from aster_authority.cli.common import authority_scope

    return authority_scope(address, scope)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_cached_deployment_plan_and_review_ids(aster_env, shell):
    nowhere = NOWHERE["ASTER_AUTHORITY_ADDR"]
    completions.remember("deployments", of_authority("service", nowhere), ["payments", "billing"], complete=True)
    completions.remember("deployments", of_authority("device", nowhere), ["sensors"], complete=True)
    completions.remember("plans", of_authority("svc/payments", nowhere),
                         ["01JF3Z8K9QWERTYUIOPASDFGHJ", "01JF3Z8K9QWERTYUIOPASDFGHX"], complete=True)
    completions.remember("reviews", of_authority("dev/sensors", nowhere), ["01JF40000000000000000000RV"],
                         complete=True)
    completions.remember("instances", of_authority("dev/sensors", nowhere), ["dev_abcdefghijklmnopqrstuv"],
                         complete=True)
    completions.remember("plans", "svc/payments", ["01JF3Z8K9QWERTYUIOPASDFGHZ"], complete=True)  # no authority's
    families = ["authority"]
    start = time.monotonic()
    assert complete(shell, "aster svc ", plugins=families, env=NOWHERE) == ["list", "payments", "billing"]
    assert complete(shell, "aster svc pa", plugins=families, env=NOWHERE) == ["payments"]
    assert complete(shell, "aster dev s", plugins=families, env=NOWHERE) == ["sensors"]
    assert complete(shell, "aster svc payments authority accept-update 01", plugins=families, env=NOWHERE) == [
        "01JF3Z8K9QWERTYUIOPASDFGHJ", "01JF3Z8K9QWERTYUIOPASDFGHX"]
    assert complete(shell, "aster svc payments authority plan show 01JF3Z8K9QWERTYUIOPASDFGHX", plugins=families,
                    env=NOWHERE) == ["01JF3Z8K9QWERTYUIOPASDFGHX"]
    assert complete(shell, "aster svc billing authority reject ", plugins=families, env=NOWHERE) == []
    assert complete(shell, "aster dev sensors reviews approve ", plugins=families, env=NOWHERE) == [
        "01JF40000000000000000000RV"]
    assert complete(shell, "aster dev sensors activations revoke d", plugins=families, env=NOWHERE) == [
        "dev_abcdefghijklmnopqrstuv"]
    assert complete(shell, "aster grants list --deployment b", plugins=families, env=NOWHERE) == ["billing"]
    assert complete(shell, "aster grants add --deployment ", plugins=families, env=NOWHERE) == ["payments", "billing"]
    assert time.monotonic() - start < 20  # nothing waited on the (absent) authority


def test_the_cache_keeps_only_ids_and_survives_damage(aster_env):
    completions.remember("plans", "svc/p", ["ok-1", "bad id", "x;rm -rf", "\x1b[31m", "ok-2", "ok-1"], complete=True)
    assert completions.recall("plans", "svc/p") == ["ok-1", "ok-2"]
    completions.remember("plans", "svc/p", ["ok-3"], complete=False)   # a filtered listing adds
    assert completions.recall("plans", "svc/p") == ["ok-3", "ok-1", "ok-2"]
    completions.remember("plans", "svc/p", ["ok-4"], complete=True)    # a complete one replaces
    assert completions.recall("plans", "svc/p") == ["ok-4"]
    path = completions.cache_file("plans")
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    with open(path, "w") as fh:
        fh.write('{"scopes": {"svc/p": "not a list"}, ')
    assert completions.recall("plans", "svc/p") == []
    completions.remember("plans", "svc/q", ["ok-5"], complete=True)   # rewritten after damage
    assert json.loads(open(path).read())["scopes"] == {"svc/q": ["ok-5"]}


def test_the_cache_is_bounded(aster_env):
    completions.remember("plans", "svc/big", [f"id-{i}" for i in range(completions.MAX_IDS + 50)], complete=True)
    assert len(completions.recall("plans", "svc/big")) == completions.MAX_IDS
    for i in range(completions.MAX_SCOPES + 5):
        completions.remember("plans", f"svc/d{i}", ["x"], complete=True)
    scopes = json.loads(open(completions.cache_file("plans")).read())["scopes"]
    assert len(scopes) == completions.MAX_SCOPES and f"svc/d{completions.MAX_SCOPES + 4}" in scopes
    assert "svc/big" not in scopes  # the oldest went first


def test_an_unwritable_cache_costs_only_completion(aster_env, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    os.environ["ASTER_HOME"] = str(blocker / "home")  # restored by the autouse fixture's monkeypatch
    completions.remember("plans", "svc/p", ["a"], complete=True)  # no exception
    assert completions.recall("plans", "svc/p") == []


def _shell_env() -> dict:
    import sys
    from pathlib import Path

    bindir = Path(sys.executable).parent
    return {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}", "ASTER_PLUGINS": "authority"}


def test_in_a_real_bash(three_profiles, tmp_path):
    """The script `aster completion bash` prints, sourced in bash, fills COMPREPLY."""
    import subprocess

    completions.remember("plans", of_authority("svc/payments"), ["01JF3Z8K9QWERTYUIOPASDFGHJ"], complete=True)
    script = tmp_path / "aster.bash"
    script.write_text(run_aster(["completion", "bash"]).stdout)
    probe = (f"source {script}\n"
             "COMP_WORDS=(aster profile use pr); COMP_CWORD=3; _aster_completion aster; echo \"${COMPREPLY[*]}\"\n"
             "COMPREPLY=(); COMP_WORDS=(aster svc payments authority accept-update ''); COMP_CWORD=5\n"
             "_aster_completion aster; echo \"${COMPREPLY[*]}\"\n")
    out = subprocess.run(["bash", "--norc", "--noprofile", "-c", probe], capture_output=True, text=True,
                         env=_shell_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["prod prod-eu", "01JF3Z8K9QWERTYUIOPASDFGHJ"], out


@pytest.mark.skipif(__import__("shutil").which("fish") is None, reason="fish is not installed (apt-get install fish)")
def test_in_a_real_fish(three_profiles, tmp_path):
    import subprocess

    completions.remember("reviews", of_authority("dev/sensors"), ["01JF40000000000000000000RV"], complete=True)
    script = tmp_path / "aster.fish"
    script.write_text(run_aster(["completion", "fish"]).stdout)
    for line, expected in (("aster profile use pr", ["prod", "prod-eu"]),
                           ("aster --profile d", ["dev"]),
                           ("aster dev sensors reviews approve ", ["01JF40000000000000000000RV"])):
        out = subprocess.run(["fish", "--no-config", "-c", f"source {script}; complete -C '{line}'"],
                             capture_output=True, text=True, env=_shell_env(), timeout=60)
        assert out.returncode == 0, out.stderr
        assert [row.split("\t")[0] for row in out.stdout.splitlines()] == expected, (line, out.stdout)


def test_help_imports_none_of_it(aster_env):
    """`aster --help` and top-level completion stay lean: the completion values, tables and
    prompts are imported only by what uses them."""
    import subprocess
    import sys

    probe = ("import sys\nfrom aster_core.main import main\n"
             "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
             "names = ('aster_core.completions', 'aster_core.tables', 'aster_core.prompts', 'aster_core.rootkey', 'rich')\n"
             "sys.stderr.write('LOADED:' + ','.join(n for n in names if n in sys.modules))\n")
    for env in ({}, {"_ASTER_COMPLETE": "bash_complete", "COMP_WORDS": "aster ", "COMP_CWORD": "1"}):
        out = subprocess.run([sys.executable, "-c", probe, "--help"], capture_output=True, text=True, timeout=60,
                             env={**os.environ, **env})
        assert out.stderr.endswith("LOADED:"), out.stderr[-300:]
