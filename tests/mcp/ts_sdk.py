"""The official TypeScript MCP SDK client (tests/mcp/ts) driving a real `aster mcp` process.

``ts_script(name, *args)`` runs one of the harness scripts in ``tests/mcp/ts`` with node
(``npm ci`` first when its packages are missing; skipped when node or npm is not installed)
and returns the JSON document it prints last. ``call_tools(address, calls, *flags)`` is
``call_tools.mjs``: each call ``[tool, arguments]`` or ``[tool, arguments, abort_after_ms]``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from aster_core.testing import aster_executable

TS_DIR = Path(__file__).parent / "ts"


def ts_script(name: str, *args: str, timeout: float = 120) -> Any:
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node/npm are not installed: cannot run the TypeScript MCP SDK")
    if not (TS_DIR / "node_modules/@modelcontextprotocol/sdk").exists():
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=TS_DIR, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, f"npm ci in {TS_DIR} failed: {done.stderr[-2000:]}"
    done = subprocess.run(["node", str(TS_DIR / name), aster_executable(), *args],
                          capture_output=True, text=True, timeout=timeout, env=dict(os.environ))
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def call_tools(address: str, calls: list, *flags: str) -> dict:
    """``{"tools": [names], "outcomes": [{"ok": true, "result"} | {"ok": false, "error"}]}``."""
    return ts_script("call_tools.mjs", json.dumps(["mcp", address, *flags]), json.dumps(calls))
