"""The released ``aster-cli 0.1.2`` (with ``aster-rpc 0.1.2``) for the tests that run it beside ours
(the registry client tests, tests/compat).

:func:`released_cli` gives its ``aster`` script, in a virtualenv of its own made once and
cached under ``build/released-cli-0.1.2`` (pip from the index; a lock file serialises
concurrent sessions and pytest-xdist workers). It never shares a venv with ours.

The registry server these tests run against: ``tests.support.registry.start_registry``; the
producer: ``tests.support.server.start_server(..., workdir=...)``; mail: the ``smtp`` fixture.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RELEASED_VENV = Path(os.environ.get("ASTER_TEST_RELEASED_CLI_VENV") or ROOT / "build" / "released-cli-0.1.2")
RELEASED_PINS = ["aster-rpc==0.1.2", "aster-cli==0.1.2", "mcp<2"]


def released_cli(timeout: float = 900.0) -> Path:
    """The ``aster`` script of aster-cli 0.1.2 in its own venv (made once, then reused)."""
    import fcntl

    script = RELEASED_VENV / "bin" / "aster"
    marker = RELEASED_VENV / ".complete"
    if marker.exists():
        return script
    RELEASED_VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{RELEASED_VENV}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return script
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(RELEASED_VENV)], check=True, timeout=120)
        subprocess.run([str(RELEASED_VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                        *RELEASED_PINS], check=True, timeout=timeout)
        marker.write_text(" ".join(RELEASED_PINS) + "\n")
    return script
