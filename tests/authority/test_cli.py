"""The commands' bad input, before any network: one Error line, the documented exit code."""

from __future__ import annotations

import pytest

from aster_core.testing import assert_clean_error, run_aster

from aster_authority.ops import parse_seed


def test_help_lists_the_families_commands_without_importing_them():
    out = run_aster(["--help"])
    assert out.returncode == 0
    for name in ("svc", "grants", "authority"):
        assert name in out.stdout
    r = run_aster(["svc", "--help"])
    assert r.returncode == 0 and "aster svc list" in r.stdout and "accept" not in r.stderr
    for args in (["svc", "x", "authority", "accept-migration", "--help"], ["grants", "add", "--help"],
                 ["authority", "serve", "--help"]):
        assert run_aster(args).returncode == 0, args


@pytest.mark.parametrize("args,code,needle", [
    (["svc", "list"], 2, "no authority address"),
    (["grants", "list"], 2, "no authority address"),
    (["svc", "payments", "apply"], 2, "exactly one of --source, --manifest or --image"),
    (["svc", "payments", "apply", "--manifest", "nope.json"], 4, "nope.json"),
    (["svc", "Not_An_Id", "show"], 2, "deployment id"),
    (["authority", "fetch", "--identity", "x.identity"], 2, "no authority address"),
    (["authority", "serve", "--root-pubkey", "missing.pub"], 4, "missing.pub"),
])
def test_bad_input(args, code, needle, tmp_path):
    assert_clean_error(run_aster(args, cwd=tmp_path), code, needle)
    assert not (tmp_path / "x.identity").exists()


def test_instance_seed():
    assert len(parse_seed("qW-6_Rg3dvtDqZwNLKCo1bG335FC0lOYRYVQNjPFwAo")) == 32
    for bad in ("abc", "not base64!", "qW-6_Rg3dvtDqZwNLKCo1bG335FC0lOYRYVQNjPFwAoAA"):
        with pytest.raises(Exception) as info:
            parse_seed(bad)
        assert info.value.exit_code == 2 and "instance-seed" in info.value.message
