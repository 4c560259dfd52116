"""The commands' bad input, before any network: one Error line, the documented exit code."""

from __future__ import annotations

import pytest

from aster_core.testing import assert_clean_error, invoke, run_aster

from aster_authority.client.signing import parse_seed


def test_help_lists_the_families_commands_without_importing_them():
    out = run_aster(["--help"])
    assert out.returncode == 0
    for name in ("svc", "grants", "authority"):
        assert name in out.stdout
    r = invoke(["svc", "--help"])
    assert r.returncode == 0 and "aster svc list" in r.stdout and "accept" not in r.stderr
    for args in (["svc", "x", "authority", "accept-migration", "--help"], ["grants", "add", "--help"],
                 ["authority", "serve", "--help"]):
        assert invoke(args).returncode == 0, args


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
    # in-process, but for serve: a server that got past its checks would serve in this process
    run = run_aster if args[:2] == ["authority", "serve"] else invoke
    assert_clean_error(run(args, cwd=tmp_path), code, needle)
    assert not (tmp_path / "x.identity").exists()


def test_instance_seed():
    assert len(parse_seed("qW-6_Rg3dvtDqZwNLKCo1bG335FC0lOYRYVQNjPFwAo")) == 32
    for bad in ("abc", "not base64!", "qW-6_Rg3dvtDqZwNLKCo1bG335FC0lOYRYVQNjPFwAoAA"):
        with pytest.raises(Exception) as info:
            parse_seed(bad)
        assert info.value.exit_code == 2 and "instance-seed" in info.value.message


def test_apply_image_through_an_unreachable_engine_is_one_line(tmp_path):
    """A reference that is not a local OCI layout goes to podman or docker. Here the real client
    is pointed at an engine nobody runs (the machine has no daemon): one Error line whose hint
    names the way that needs no engine; or, with neither installed, exit 4 saying so."""
    import shutil

    args = ["svc", "payments", "apply", "--image", "example.invalid/none:1", "--authority", "aster1qqqq"]
    if shutil.which("podman") or not shutil.which("docker"):
        expected = (1, "podman") if shutil.which("podman") else (4, "neither podman nor docker is installed")
        assert_clean_error(run_aster(args, cwd=tmp_path), *expected)
        return
    out = run_aster(args, cwd=tmp_path, env={"DOCKER_HOST": "tcp://127.0.0.1:9"})
    assert_clean_error(out, 1, "docker image failed")
    line = out.stderr.strip()
    assert "?." not in line and "start docker's service" in line and "OCI image layout" in line, line
