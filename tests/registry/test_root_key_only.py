"""A machine with no profile and no keyring joins a registry with `--root-key FILE` alone:
`join`, `verify` and `whoami` sign with the file's key, and the key's handle is the registry's
to tell (nothing is written to config.toml). Real registry on SQLite, real SMTP sink."""

from __future__ import annotations

import json

from aster_core.testing import run_aster
from tests.support.registry import start_registry

NO_KEYRING = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


def test_join_verify_whoami_with_only_a_key_file(tmp_path, smtp, aster_env):
    made = run_aster(["trust", "keygen", "root", "--out", str(tmp_path / "root.key")])
    assert made.returncode == 0, made.stderr
    with start_registry(str(tmp_path / "reg.db"), home=tmp_path / "registry", smtp=smtp) as proc:
        env = {**NO_KEYRING, "ASTER_SERVICE_ADDR": proc.address}
        key = ["--root-key", str(tmp_path / "root.key")]

        def aster(*args: str):
            result = run_aster([*args, *key, "--json"], env=env, cwd=tmp_path, timeout=60)
            assert result.returncode == 0, (args, result.returncode, result.stderr)
            assert "Traceback" not in result.stderr
            return json.loads(result.stdout)

        assert aster("join", "--handle", "solo", "--email", "solo@example.com")["status"] == "pending"
        assert aster("verify", smtp.code_for("solo@example.com"))["status"] == "verified"
        me = aster("whoami")
        assert me["remote"]["handle"] == "solo" and me["remote"]["status"] == "verified"
        assert me["local"]["profile"] == "" and me["local"]["handle"] == "solo"
    assert not (aster_env / "config.toml").exists()
