"""aster_core.testing.invoke: the script's entry point in-process, each call leaving nothing behind."""

from __future__ import annotations

import os
import sys

from aster_core.testing import assert_clean_error, invoke, run_aster


def test_the_same_output_and_exit_codes_as_the_script():
    for args in (["--help"], ["profile", "create", "--help"], ["no-such-command"], ["profile", "create"],
                 ["--version"]):
        here, there = invoke(args), run_aster(args)
        assert (here.returncode, here.stdout, here.stderr) == (there.returncode, there.stdout, there.stderr), args
    assert_clean_error(invoke(["profile", "create"]), 2, "Missing argument")


def test_environment_cwd_and_path_are_put_back(tmp_path, monkeypatch):
    monkeypatch.setenv("ASTER_PROFILE", "kept")
    before = (dict(os.environ), os.getcwd(), list(sys.path))
    (tmp_path / "probe_module_for_invoke.py").write_text(
        "import os, sys\nos.environ['SET_BY_THE_COMMAND'] = '1'\nsys.path.append('/nowhere')\n")
    made = invoke(["profile", "create", "dev"], env={"ASTER_PROFILE": None, "EXTRA": "x"}, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    # what contract gen does: put its folder on sys.path and import from there
    gen = invoke(["contract", "gen", "--service", "probe_module_for_invoke:Nothing", "--out", "m.json"], cwd=tmp_path,
                 plugins=["aster-contract"])
    assert gen.returncode == 4 and "no attribute 'Nothing'" in gen.stderr, gen.stderr  # so the module was imported
    assert (dict(os.environ), os.getcwd(), list(sys.path)) == before
    assert "probe_module_for_invoke" not in sys.modules
