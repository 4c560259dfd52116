"""`aster config show` agrees with the runtime's own AsterConfig, and works without it."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import pytest

from aster_core.settings import RUNTIME_SETTINGS, resolve_runtime
from aster_core.testing import run_aster

KEY = base64.b64encode(bytes(range(32))).decode()
PUB = "ab" * 32

TOML = f'''
[trust]
root_pubkey = "{PUB}"
enrollment_credential = "/etc/aster/cred.json"
allow_all_consumers = true

[connect]
endpoint_addr = "aster1fromfile"

[storage]
path = "/var/lib/aster"

[network]
relay_mode = "disabled"
bind_addr = "127.0.0.1:9000"
enable_monitoring = true
hook_timeout_ms = 250
secret_key = "{KEY}"

[logging]
format = "JSON"
level = "debug"
mask = false

[unrelated]
anything = 1
'''

CASES = {
    "defaults": ({}, False),
    "env only": ({"ASTER_ROOT_PUBKEY": PUB, "ASTER_ALLOW_ALL_PRODUCERS": "off", "ASTER_STORAGE_PATH": "",
                  "ASTER_RELAY_MODE": " disabled ", "ASTER_HOOK_TIMEOUT_MS": "42", "ASTER_LOG_LEVEL": "WARNING",
                  "ASTER_IDENTITY_FILE": "~/id", "ASTER_SECRET_KEY": KEY, "ASTER_LOCAL_DISCOVERY": "yes"}, False),
    "file only": ({}, True),
    "env beats file": ({"ASTER_STORAGE_PATH": "/srv/env", "ASTER_ENABLE_MONITORING": "0",
                        "ASTER_ENROLLMENT_CREDENTIAL": "/env/cred.json", "ASTER_LOG_MASK": "true"}, True),
}

RUNTIME_ENV = [s.env for s in RUNTIME_SETTINGS]


@pytest.fixture
def clean_env(monkeypatch):
    for var in RUNTIME_ENV:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


@pytest.mark.parametrize("case", sorted(CASES))
def test_agrees_with_runtime_asterconfig(case, clean_env, tmp_path):
    config_mod = pytest.importorskip("aster.config")
    env, with_file = CASES[case]
    for key, value in env.items():
        clean_env.setenv(key, value)
    path = None
    if with_file:
        path = tmp_path / "aster.toml"
        path.write_text(TOML)
    runtime = config_mod.AsterConfig.from_file(path) if path else config_mod.AsterConfig.from_env()
    ours = {r.name: r for r in resolve_runtime(str(path) if path else None)}
    dataclass_fields = {f for f in runtime.__dataclass_fields__ if not f.startswith("_")}
    assert set(ours) == dataclass_fields  # every field the runtime has, nothing it lacks
    for name, resolved in ours.items():
        assert resolved.value == getattr(runtime, name), name
        assert resolved.source == runtime._sources.get(name, "default"), name


def test_cli_output_masks_secrets_and_names_sources(clean_env, tmp_path):
    path = tmp_path / "aster.toml"
    path.write_text(TOML)
    result = run_aster(["config", "show", "--json", "--file", str(path)],
                       env={"ASTER_STORAGE_PATH": "/srv/env", "ASTER_RELAY_MODE": "disabled"})
    assert result.returncode == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["secret_key"]["value"].startswith("****") and bytes(range(32)).hex() not in result.stdout
    assert rows["enrollment_credential_file"]["value"].startswith("****")
    assert rows["root_pubkey"]["value"] == PUB  # public: shown in full
    assert rows["storage_path"] == {**rows["storage_path"], "value": "/srv/env", "source": "ASTER_STORAGE_PATH"}
    assert rows["bind_addr"]["source"] == f"{path} [network]"
    assert rows["log_format"]["value"] == "json"
    assert rows["allow_all_producers"] == {**rows["allow_all_producers"], "value": True, "source": "default"}
    assert rows["greeting"]["owner"] == "aster-hello"  # families' settings are there too


def test_family_setting_from_file_and_env(aster_env):
    aster_env.mkdir(parents=True, exist_ok=True)
    (aster_env / "config.toml").write_text('[hello]\ngreeting = "Ahoy"\n')
    rows = {r["name"]: r for r in json.loads(run_aster(["config", "show", "--json"]).stdout)}
    assert rows["greeting"]["value"] == "Ahoy" and rows["greeting"]["source"] == "config.toml [hello] greeting"
    rows = {r["name"]: r for r in json.loads(
        run_aster(["config", "show", "--json"], env={"ASTER_HELLO_GREETING": "Hi"}).stdout)}
    assert rows["greeting"]["value"] == "Hi" and rows["greeting"]["source"] == "ASTER_HELLO_GREETING"


def test_works_without_the_runtime_installed(clean_env):
    """Block `import aster` entirely: config show must not need aster-rpc."""
    code = ("import sys; sys.modules['aster'] = None\n"
            "from aster_core.main import main\nmain(['config', 'show', '--json'])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "ASTER_BIND_ADDR": "127.0.0.1:1"})
    assert result.returncode == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["bind_addr"]["value"] == "127.0.0.1:1"


@pytest.mark.parametrize("env,needle", [({"ASTER_ALLOW_ALL_CONSUMERS": "maybe"}, "ASTER_ALLOW_ALL_CONSUMERS"),
                                        ({"ASTER_ROOT_PUBKEY": "zz"}, "ASTER_ROOT_PUBKEY"),
                                        ({"ASTER_HOOK_TIMEOUT_MS": "soon"}, "ASTER_HOOK_TIMEOUT_MS")])
def test_bad_environment_values(env, needle, clean_env):
    result = run_aster(["config", "show"], env=env)
    assert result.returncode == 2
    assert result.stderr.startswith(f"Error: {needle}") and "Traceback" not in result.stderr


def test_missing_or_corrupt_file(tmp_path, clean_env):
    missing = run_aster(["config", "show", "--file", str(tmp_path / "nope.toml")])
    assert missing.returncode == 4 and missing.stderr.startswith("Error: ")
    bad = tmp_path / "bad.toml"
    bad.write_text("[network\n")
    corrupt = run_aster(["config", "show", "--file", str(bad)])
    assert corrupt.returncode == 2 and "not valid TOML" in corrupt.stderr
