"""`aster authority login / logout / whoami` against a real authority on loopback: the address
and credential kept in config.toml once every check passed, nothing written otherwise."""

from __future__ import annotations

import json
import tomllib

import pytest

from aster_core.testing import assert_clean_error, invoke, run_aster
from tests.support.credentials import make_root_key, write_consumer_identity


def _config(home) -> dict:
    path = home / "config.toml"
    return tomllib.loads(path.read_text()) if path.exists() else {}


@pytest.mark.slow
def test_login_whoami_logout(sqlite_mesh, aster_env, tmp_path):
    m = sqlite_mesh
    out = run_aster(["authority", "whoami"], cwd=tmp_path)
    assert_clean_error(out, 2, "not logged in", "authority login")

    out = run_aster(["authority", "login", m.server.address, "--rcan", "admin.identity", "--json"], cwd=m.tmp)
    assert out.returncode == 0, out.stderr
    done = json.loads(out.stdout)
    assert done["admin"] is True and done["roles"] == ["authority.admin"] and done["endpoint_id"]
    table = _config(aster_env)["authority"]
    assert table == {"address": m.server.address, "credential": str(m.admin_identity)}  # absolute path

    # every admin command now finds the authority with no flag and no variable, from anywhere
    out = run_aster(["svc", "demo", "create", "--role", "tasks", "--json"], cwd=tmp_path)
    assert out.returncode == 0, out.stderr

    who = json.loads(run_aster(["authority", "whoami", "--json"], cwd=tmp_path).stdout)
    assert who["reachable"] is True and who["admitted"] is True and who["admin"] is True
    assert who["endpoint_id"] == done["endpoint_id"] and who["caller"] == done["endpoint_id"]
    assert who["address"] == m.server.address and who["address_from"] == "config.toml [authority]"
    assert who["expires_at"] > 0 and who["expired"] is False
    text = run_aster(["authority", "whoami"], cwd=tmp_path).stdout
    assert "authority.admin" in text and "answers" in text and done["endpoint_id"] in text

    # the server goes away: whoami still says who we are, and that it does not answer
    m.server.stop()
    who = json.loads(run_aster(["authority", "whoami", "--json"], cwd=tmp_path, env={"ASTER_AUTHORITY_TIMEOUT": "3s"})
                     .stdout)
    assert who["reachable"] is False and who["problem"] and who["endpoint_id"] == done["endpoint_id"]

    out = invoke(["authority", "logout", "--json"])
    assert json.loads(out.stdout)["removed"] == ["authority.address", "authority.credential"]
    assert "authority" not in _config(aster_env)
    assert json.loads(invoke(["authority", "logout", "--json"]).stdout)["removed"] == []  # again: nothing to do


@pytest.mark.slow
def test_login_refusals_write_nothing(sqlite_mesh, aster_env, tmp_path):
    m = sqlite_mesh
    (tmp_path / "other").mkdir()
    other = make_root_key(tmp_path / "other")
    stranger, _ = write_consumer_identity(other, tmp_path / "stranger.identity", name="ops",
                                          attributes={"aster.role": "authority.admin"})
    (tmp_path / "garbage.json").write_text('{"type": "policy"}')
    cases = [
        (["authority", "login", "not-an-address", "--rcan", str(m.admin_identity)], 2, "not an address"),
        (["authority", "login", m.server.address, "--rcan", "missing.identity"], 4, "missing.identity"),
        (["authority", "login", m.server.address, "--rcan", "garbage.json"], 2, "garbage.json"),
        (["authority", "login", m.server.address, "--rcan", str(stranger)], 3, "signed by"),  # another mesh's root
        (["authority", "login", m.server.address], 2, "--rcan"),
    ]
    for args, code, needle in cases:
        assert_clean_error(run_aster(args, cwd=tmp_path), code, needle)
        assert not (aster_env / "config.toml").exists(), args
    m.server.stop()
    out = run_aster(["authority", "login", m.server.address, "--rcan", str(m.admin_identity)], cwd=tmp_path,
                    env={"ASTER_AUTHORITY_TIMEOUT": "3s"})
    assert_clean_error(out, 7)  # nobody answers: exit 7, nothing kept
    assert not (aster_env / "config.toml").exists()


def test_a_reviewer_logs_in_but_is_no_admin(sqlite_mesh, aster_env):
    m = sqlite_mesh
    reviewer, _ = write_consumer_identity(m.root, m.tmp / "reviewer.identity", name="rev",
                                          attributes={"aster.role": "authority.review"})
    out = run_aster(["authority", "login", m.server.address, "--rcan", str(reviewer)], cwd=m.tmp)
    assert out.returncode == 0 and "not an admin" in out.stdout, out
    who = json.loads(run_aster(["authority", "whoami", "--json"], cwd=m.tmp).stdout)
    assert who["admitted"] is True and who["admin"] is False and who["roles_seen"] == ["authority.review"]
