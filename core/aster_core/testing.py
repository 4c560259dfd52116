"""Helpers for testing `aster` families (ours and third parties').

- :func:`isolated_env` gives the environment variables for a throw-away home
  and a real file-based keyring backend (keyrings.alt, a test dependency).
- :func:`run_aster` runs the installed ``aster`` script in a subprocess, as a
  user would, optionally loading only the plugins a test names.
- :func:`invoke` runs the host in-process with click's runner (faster, same
  plugin selection).
- :func:`assert_clean_error` checks what every failing command must do: one
  ``Error: ... Hint: ...`` line on stderr, the documented exit code, nothing on
  stdout, no traceback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterable, Mapping, Sequence

FILE_KEYRING = "keyrings.alt.file.PlaintextKeyring"


def isolated_env(base: str | os.PathLike) -> dict[str, str]:
    """Environment for an isolated home under ``base`` with a file keyring in it."""
    base = Path(base)
    home = base / "aster-home"
    data = base / "keyring-data"
    data.mkdir(parents=True, exist_ok=True)
    return {
        "ASTER_HOME": str(home),
        "PYTHON_KEYRING_BACKEND": FILE_KEYRING,
        "XDG_DATA_HOME": str(data),           # where keyrings.alt keeps its file
        "ASTER_RELAY_MODE": "disabled",
        "NO_COLOR": "1",
    }


def aster_executable() -> str:
    """The ``aster`` script beside the running interpreter (the installed one)."""
    candidate = Path(sys.executable).with_name("aster")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("aster")
    if not found:
        raise RuntimeError("the `aster` script is not installed in this environment")
    return found


def run_aster(args: Sequence[str], *, plugins: Iterable[str] | None = None,
              env: Mapping[str, str] | None = None, input: str | None = None,
              cwd: str | os.PathLike | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``aster ARGS`` in a subprocess with captured text output.

    ``plugins`` limits loading to the named distributions or entry points
    (``ASTER_PLUGINS``); ``[]`` loads none.
    """
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    if plugins is not None:
        names = list(plugins)
        full_env["ASTER_PLUGINS"] = ",".join(names) if names else "-"
    return subprocess.run([aster_executable(), *args], capture_output=True, text=True, input=input,
                          env=full_env, cwd=cwd, timeout=timeout)


def invoke(args: Sequence[str], *, plugins: Iterable[str] | None = None, input: str | None = None,
           env: Mapping[str, str] | None = None):
    """Run the host in-process with click's CliRunner; returns its Result."""
    from click.testing import CliRunner

    from . import output
    from .main import build_cli

    full_env = dict(env or {})
    if plugins is not None:
        names = list(plugins)
        full_env["ASTER_PLUGINS"] = ",".join(names) if names else "-"
    output.reset_consoles()
    runner = CliRunner()
    old = {k: os.environ.get(k) for k in full_env}
    os.environ.update(full_env)
    try:
        return runner.invoke(build_cli(), list(args), input=input, catch_exceptions=False)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        output.reset_consoles()


def assert_clean_error(result: subprocess.CompletedProcess, code: int, *needles: str, hint: bool = True) -> str:
    """Assert ``result`` failed the way every `aster` command must: exit ``code``,
    stderr exactly one ``Error:`` line (with a ``Hint:`` unless ``hint=False``)
    containing each of ``needles``, stdout empty, no traceback. Returns the line."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert result.stdout == "", result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    if hint:
        assert "Hint:" in lines[0], lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]
