"""What the command line writes that holds a secret is 0600, in folders it creates 0700, whatever
the umask: the home, config.toml, root key files, credentials, identity files (where a producer
token goes), the plugin cache. Modes are read with os.stat (the suite may run as root)."""

from __future__ import annotations

import os
import stat

from aster_core.testing import invoke


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_keys_identities_credentials_and_config_are_private(aster_env, tmp_path):
    work = tmp_path / "project"
    work.mkdir()
    old = os.umask(0o022)
    try:
        for argv in (["profile", "create", "prod"],
                     ["trust", "keygen", "root", "--out", "root.key"],
                     ["trust", "sign", "consumer", "--root-key", "root.key", "--out", "c.cred"],
                     ["enroll", "node", "--role", "producer", "--name", "api", "--root-key", "root.key"],
                     ["config", "show"]):
            result = invoke(argv, plugins=["aster-trust", "aster-enroll"], cwd=work)
            assert result.returncode == 0, (argv, result.stderr)
        from aster_registry.client import tokens

        producer = tokens.find_producer(work / ".aster-identity")
        tokens.store(producer, "TaskService", "token.mac", "ab" * 32, "aster1registry")  # what publish writes
    finally:
        os.umask(old)
    assert _mode(aster_env) == 0o700
    for path in (aster_env / "config.toml", work / "root.key", work / "c.cred", work / ".aster-identity"):
        assert _mode(path) == 0o600, path
    for path in aster_env.rglob("*"):
        assert _mode(path) in ((0o700,) if path.is_dir() else (0o600,)), path
    assert "token.mac" in (work / ".aster-identity").read_text()
