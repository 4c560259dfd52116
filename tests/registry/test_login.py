"""`aster registry login / logout / whoami` against a real registry on loopback: the address
kept in config.toml ([aster_service] node_id, where aster-cli 0.1.2 reads it too) once the
registry answered; the identity is the profile's root key."""

from __future__ import annotations

import json
import tomllib

import pytest

from aster_core.testing import assert_clean_error, invoke, run_aster
from tests.support.registry import start_registry


def _config(home) -> dict:
    path = home / "config.toml"
    return tomllib.loads(path.read_text()) if path.exists() else {}


@pytest.mark.slow
def test_login_whoami_logout(tmp_path, aster_env, smtp):
    with start_registry(str(tmp_path / "registry.db"), home=tmp_path / "registry", smtp=smtp) as reg:
        assert_clean_error(run_aster(["registry", "whoami"], cwd=tmp_path), 2, "no registry address")
        out = run_aster(["registry", "login", reg.address, "--json"], cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["public_services"] == 0
        assert _config(aster_env)["aster_service"] == {"node_id": reg.address, "enabled": True}

        # no profile yet: the registry answers, and whoami says what is missing
        who = json.loads(run_aster(["registry", "whoami", "--json"], cwd=tmp_path).stdout)
        assert who["reachable"] is True and who["address_from"] == "config.toml [aster_service] node_id"
        assert "profile" in who["problem"]

        # a profile and a handle: whoami shows the registry's view of the root key
        assert run_aster(["profile", "create", "ada"]).returncode == 0
        assert run_aster(["join", "--handle", "ada", "--email", "ada@example.com"], cwd=tmp_path).returncode == 0
        code = smtp.code_for("ada@example.com")
        assert run_aster(["verify", code], cwd=tmp_path).returncode == 0
        who = json.loads(run_aster(["registry", "whoami", "--json"], cwd=tmp_path).stdout)
        assert who["identity"]["remote"]["handle"] == "ada" and who["identity"]["remote"]["status"] == "verified"
        text = run_aster(["registry", "whoami"], cwd=tmp_path).stdout
        assert "@ada" in text and "yes, as @ada" in text

        # ASTER_SERVICE_ADDR still wins over the file, and whoami says where the address came from
        who = json.loads(run_aster(["registry", "whoami", "--json"], cwd=tmp_path,
                                   env={"ASTER_SERVICE_ADDR": reg.address}).stdout)
        assert who["address_from"] == "ASTER_SERVICE_ADDR"

    who = json.loads(run_aster(["registry", "whoami", "--json", "--timeout", "3"], cwd=tmp_path).stdout)
    assert who["reachable"] is False and who["problem"]  # stopped: it says so, and exits 0
    assert json.loads(invoke(["registry", "logout", "--json"]).stdout)["removed"] == ["aster_service.node_id"]
    assert "node_id" not in _config(aster_env).get("aster_service", {})
    assert json.loads(invoke(["registry", "logout", "--json"]).stdout)["removed"] == []


def test_login_refusals_write_nothing(tmp_path, aster_env):
    assert_clean_error(invoke(["registry", "login", "not an address"], cwd=tmp_path), 2, "not an address")
    out = run_aster(["registry", "login", "aster1" + "q" * 40, "--timeout", "3"], cwd=tmp_path)
    assert out.returncode in (2, 7) and out.stderr.startswith("Error: ") and "Traceback" not in out.stderr
    assert not (aster_env / "config.toml").exists()
    assert_clean_error(invoke(["config", "set", "aster_service.node_id", "a b"]), 2, "not an address")
