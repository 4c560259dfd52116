"""The plugin cache: used while nothing installed changes, rebuilt when anything does,
ignored when damaged, never read in strict mode; families built as real dist-info folders."""

from __future__ import annotations

import json
import os
import shutil
import textwrap
import zlib
from pathlib import Path

import pytest

from aster_core import plugincache
from aster_core.host import PluginHost
from aster_core.testing import run_aster
from tests.core.attack import unprivileged
from tests.core.test_host import imported_modules


def write_family(site: Path, src: Path, package: str, version: str, help_: str, *, module: str = "plugin") -> Path:
    """A family installed the way an editable install lays it out: metadata in ``site``,
    code in ``src``. Returns the dist-info folder."""
    (src / package).mkdir(parents=True, exist_ok=True)
    (src / package / "__init__.py").write_text("")
    (src / package / f"{module}.py").write_text(textwrap.dedent(f"""\
        from aster_core.hookspecs import CommandSpec, hookimpl


        @hookimpl
        def aster_commands():
            return [CommandSpec({package!r}, {help_!r}, "aster_hello.cli:hello")]
        """))
    dist = site / f"{package}-{version}.dist-info"
    dist.mkdir(parents=True)
    name = package.replace("_", "-")
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                                   "Requires-Dist: aster-core<0.2,>=0.1\n\n")
    (dist / "entry_points.txt").write_text(f"[aster.plugins.v1]\n{package} = {package}.{module}\n")
    (dist / "RECORD").write_text(f"{dist.name}/METADATA,,\n{dist.name}/entry_points.txt,,\n{dist.name}/RECORD,,\n")
    return dist


@pytest.fixture
def layout(tmp_path) -> tuple[Path, Path, dict[str, str]]:
    site, src = tmp_path / "site", tmp_path / "src"
    site.mkdir()
    src.mkdir()
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), str(src), os.environ.get("PYTHONPATH")]))}
    return site, src, env


def help_rows(env: dict[str, str]) -> dict[str, str]:
    result = run_aster(["--help"], env=env)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    rows = {}
    for line in result.stdout.split("Commands:", 1)[1].splitlines():
        name, _, text = line.strip().partition(" ")
        rows[name] = text.strip()
    return rows


def plugin_modules(modules: set[str]) -> list[str]:
    """Families' plugin modules and pluggy: what a start that lists commands from the cache never imports."""
    return sorted(m for m in modules if m.endswith(".plugin") or m.split(".")[0] == "pluggy")


def cache_path(home: Path) -> Path:
    return home / "cache" / "plugins.marshal"


def test_a_warm_start_imports_no_plugin_module_and_no_pluggy(aster_env):
    cold = imported_modules("--help")
    assert "aster_hello.plugin" in cold and "pluggy" in cold  # nothing cached yet: the real pluggy call
    assert cache_path(aster_env).is_file()
    assert plugin_modules(imported_modules("--help")) == []
    completion = {**os.environ, "_ASTER_COMPLETE": "bash_complete", "COMP_WORDS": "aster he", "COMP_CWORD": "1"}
    assert plugin_modules(imported_modules(env=completion)) == []
    assert plugin_modules(imported_modules("hello", "Ada")) == []  # a command that calls no hook
    doctor = imported_modules("doctor")  # a command that calls hooks: through pluggy, every family imported
    assert "pluggy" in doctor and "aster_hello.plugin" in doctor and "aster_trust.plugin" in doctor


def test_the_cache_is_rebuilt_when_a_family_is_edited_upgraded_added_or_removed(layout):
    site, src, env = layout
    dist = write_family(site, src, "aster_tmpfam", "0.1", "First help.")
    assert help_rows(env)["aster_tmpfam"] == "First help."
    assert help_rows(env)["aster_tmpfam"] == "First help."  # warm

    # an editable install's plugin module edited in place
    write_family_module = src / "aster_tmpfam" / "plugin.py"
    write_family_module.write_text(write_family_module.read_text().replace("First help.", "Second, longer help."))
    assert help_rows(env)["aster_tmpfam"] == "Second, longer help."

    # upgraded: a new dist-info folder naming another plugin module
    shutil.rmtree(dist)
    write_family(site, src, "aster_tmpfam", "0.2", "Third help.", module="plugin2")
    assert help_rows(env)["aster_tmpfam"] == "Third help."

    # another family added, then the first removed
    write_family(site, src, "aster_other", "1.0", "Other help.")
    rows = help_rows(env)
    assert rows["aster_other"] == "Other help." and rows["aster_tmpfam"] == "Third help."
    shutil.rmtree(site / "aster_tmpfam-0.2.dist-info")
    rows = help_rows(env)
    assert "aster_tmpfam" not in rows and rows["aster_other"] == "Other help."


def test_installing_any_distribution_rebuilds_the_cache(layout):
    site, src, env = layout
    write_family(site, src, "aster_tmpfam", "0.1", "Help.")
    run_env = {**os.environ, **env}
    imported_modules("--help", env=run_env)
    assert plugin_modules(imported_modules("--help", env=run_env)) == []
    (site / "unrelated-1.0.dist-info").mkdir()  # a dependency a family may import appeared
    (site / "unrelated-1.0.dist-info" / "METADATA").write_text("Name: unrelated\nVersion: 1.0\n\n")
    assert "aster_tmpfam.plugin" in imported_modules("--help", env=run_env)


@pytest.mark.parametrize("damage", ["empty", "garbage", "truncated", "bad checksum", "wrong shape", "folder"])
def test_a_damaged_cache_is_ignored_and_rewritten(aster_env, damage):
    imported_modules("--help")
    path = cache_path(aster_env)
    good = path.read_bytes()
    header = good.split(b"\n", 1)[0] + b"\n"
    if damage == "folder":
        path.unlink()
        path.mkdir()
    else:
        payload = json.dumps(["not", "a", "cache"]).encode() if damage == "wrong shape" else b""
        path.write_bytes({
            "empty": b"",
            "garbage": os.urandom(512),
            "truncated": good[: len(good) // 2],
            "bad checksum": header + b"\0\0\0\0" + good[len(header) + 4:],
            "wrong shape": header + zlib.crc32(payload).to_bytes(4, "big") + payload,
        }[damage])
    result = run_aster(["--help"])
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert "  hello " in result.stdout
    assert "aster_hello.plugin" in imported_modules("--help")  # nothing usable was left: loaded for real
    if damage != "folder":  # a folder in its place cannot be replaced; every start then loads for real
        assert path.read_bytes().startswith(header)
        assert plugin_modules(imported_modules("--help")) == []  # rewritten, and read back


def test_an_unreadable_cache_or_unwritable_home_is_not_an_error(aster_env, tmp_path):
    assert run_aster(["--help"]).returncode == 0
    cache_path(aster_env).chmod(0)
    result = unprivileged(["--help"])
    assert result.returncode == 0 and result.stderr == "" and "  hello " in result.stdout, result.stderr
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    result = unprivileged(["--help"], env={"ASTER_HOME": str(locked / "home")})
    assert result.returncode == 0 and result.stderr == "" and "  hello " in result.stdout, result.stderr
    assert not (locked / "home").exists()


def test_the_cache_answers_listing_only_and_strict_mode_never_reads_it(aster_env):
    assert "hello" in PluginHost().commands  # cold: writes the cache
    key = plugincache.environment_key()
    snapshot = plugincache.read(key)
    assert snapshot is not None
    entries = dict(snapshot.entries)
    ident = next(i for i in entries if i[1] == "hello")
    stamp, module_file, hooks, unknown, commands = entries[ident]
    entries[ident] = (stamp, module_file, hooks, unknown,
                      (*commands, ("cached-only", "Only the cache knows it.", "aster_hello.cli:hello", False)))
    plugincache.write(key, snapshot.found, entries)

    warm = PluginHost()
    assert "cached-only" in warm.commands  # the listing came from the cache...
    shell = {(dist, item.name) for dist, item in warm.collect("aster_shell_commands")}
    assert ("aster-hello", "hello") in shell  # ...every other hook from pluggy
    assert "cached-only" not in PluginHost(strict=True).commands


def test_reinstalling_the_same_version_with_a_new_entry_point_is_seen(layout):
    """A plugin author adds the entry point and runs `pip install -e .` again: same folder name."""
    site, src, env = layout
    dist = write_family(site, src, "aster_tmpfam", "0.1", "Help.")
    (dist / "entry_points.txt").write_text("[console_scripts]\ntmpfam = aster_tmpfam.cli:main\n")
    assert "aster_tmpfam" not in help_rows(env)
    shutil.rmtree(dist)
    write_family(site, src, "aster_tmpfam", "0.1", "Help.")
    assert help_rows(env)["aster_tmpfam"] == "Help."


def test_a_broken_family_is_retried_on_every_start_while_the_rest_stays_cached(layout):
    site, src, env = layout
    write_family(site, src, "aster_tmpfam", "0.1", "Help once fixed.")
    module = src / "aster_tmpfam" / "plugin.py"
    fixed = module.read_text()
    module.write_text("raise ImportError('No module named a_missing_dependency')\n")
    for _ in range(2):  # loaded for real, then from the cache: the same single line each time
        result = run_aster(["--help"], env=env)
        lines = result.stderr.splitlines()
        assert result.returncode == 0 and "  hello " in result.stdout and len(lines) == 1, result.stderr
        assert "aster-tmpfam 0.1" in lines[0] and "a_missing_dependency" in lines[0]
    run_env = {**os.environ, **env}
    imported_modules("--help", env=run_env)
    assert plugin_modules(imported_modules("--help", env=run_env)) == []  # only the broken one is tried again
    broken = run_aster(["aster_tmpfam"], env=env)
    assert broken.returncode == 5 and "is failed: ImportError" in broken.stderr
    module.write_text(fixed)
    assert help_rows(env)["aster_tmpfam"] == "Help once fixed."


def test_switches_behave_the_same_with_a_warm_cache(aster_env):
    assert "  hello " in run_aster(["--help"]).stdout
    assert cache_path(aster_env).is_file()
    assert "  hello " not in run_aster(["--help"], plugins=[]).stdout
    assert "  hello " not in run_aster(["--no-plugins", "--help"]).stdout
    assert "  hello " not in run_aster(["--help"], env={"ASTER_DISABLE_PLUGINS": "aster-hello"}).stdout
    only = run_aster(["--help"], plugins=["hello"]).stdout
    assert "  hello " in only and "  trust " not in only
    disabled = run_aster(["hello"], env={"ASTER_DISABLE_PLUGINS": "hello"})
    assert disabled.returncode == 5 and disabled.stderr.startswith("Error: the 'hello' family")
