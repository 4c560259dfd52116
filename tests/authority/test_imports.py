"""What each part of the family imports: the client, the commands and the gate run without the
server's dependencies (the ``server`` extra), and ``authority serve`` without them says so in
one line. Each case runs a fresh interpreter, so nothing imported by the suite counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from aster_core.testing import assert_clean_error

SERVER_ONLY = ("sqlalchemy", "alembic", "psycopg", "aster_server")

_CLIENT_SIDE = """
import importlib, json, os, pkgutil, sys
for name in os.environ["BLOCK"].split(","):
    if name:
        sys.modules[name] = None      # `import name` fails, as if it were not installed
import aster_authority
for package in ("client", "cli", "domain"):
    pkg = importlib.import_module(f"aster_authority.{package}")
    for found in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"aster_authority.{package}.{found.name}")
import aster_authority.wire, aster_authority.gate, aster_authority.plugin
from aster_core.main import main
try:
    main(["svc", "list", "--help"])
except SystemExit as exc:
    code = exc.code
loaded = sorted(m for m in sys.modules if sys.modules[m] is not None)
with open(os.environ["DUMP_TO"], "w") as out:
    json.dump({"code": code, "modules": loaded}, out)
"""

_SERVE = """
import os, sys
for name in os.environ["BLOCK"].split(","):
    sys.modules[name] = None
from aster_core.main import main
main(["authority", "serve", "--db", os.environ["DB"]])
"""


def _run(code: str, tmp_path, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "ASTER_PLUGINS": "aster-authority", **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, cwd=tmp_path,
                          timeout=120)


def test_client_commands_and_gate_load_without_the_server(tmp_path):
    """Every client, command and domain module, the gate, and `aster svc list --help`, with the
    server's dependencies made unimportable: nothing needs them, and none is loaded."""
    dump = tmp_path / "modules.json"
    done = _run(_CLIENT_SIDE, tmp_path, BLOCK=",".join(SERVER_ONLY), DUMP_TO=str(dump))
    assert done.returncode == 0, done.stderr
    found = json.loads(dump.read_text())
    assert found["code"] == 0
    assert "Usage: aster svc list" in done.stdout and "--limit" in done.stdout
    loaded = {m.split(".")[0] for m in found["modules"]}
    assert not loaded & set(SERVER_ONLY)
    assert not [m for m in found["modules"] if m.startswith("aster_authority.server")]


def test_svc_list_help_loads_no_server_module_when_the_server_is_installed(tmp_path):
    """The same with everything installed (the meta-package's shape): still none of them loaded."""
    dump = tmp_path / "modules.json"
    done = _run(_CLIENT_SIDE, tmp_path, BLOCK="", DUMP_TO=str(dump))
    assert done.returncode == 0, done.stderr
    loaded = {m.split(".")[0] for m in json.loads(dump.read_text())["modules"]}
    assert not loaded & set(SERVER_ONLY)


def test_serve_without_the_server_extra_is_one_line_naming_it(tmp_path):
    for missing in ("aster_server", "sqlalchemy", "alembic"):
        done = _run(_SERVE, tmp_path, BLOCK=missing, DB=str(tmp_path / "authority.db"))
        line = assert_clean_error(done, 1, missing, "Hint: pip install 'aster-authority[server]'")
        assert line.endswith("pip install 'aster-authority[server]'"), line
    assert not (tmp_path / "authority.db").exists()
