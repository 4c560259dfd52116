"""Helpers for testing `aster` families (ours and third parties').

- :func:`isolated_env` gives the environment variables for a throw-away home
  and a real file-based keyring backend (keyrings.alt, a test dependency).
- :func:`run_aster` runs the installed ``aster`` script in a subprocess, as a
  user would, optionally loading only the plugins a test names.
- :func:`invoke` runs the same entry point in-process with click's runner
  (same plugin selection, same result type, each call isolated), for tests
  where a subprocess adds nothing.
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
           env: Mapping[str, str | None] | None = None, cwd: str | os.PathLike | None = None,
           timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run ``aster ARGS`` in this process, as :func:`run_aster` would in a subprocess.

    The same entry point runs (:func:`aster_core.main.main`: one ``Error:`` line and the
    documented exit code for every failure), with stdin, stdout and stderr swapped for
    buffers by click's runner, ``env`` applied (a ``None`` value removes a variable),
    ``cwd`` entered, and a fresh plugin host; all of it is put back afterwards (with the
    whole environment, ``sys.path`` and the modules a command imported from folders it
    added there), so calls cannot leak into each other. Returns a ``CompletedProcess`` with text output.

    For commands that parse, check, read and write files and print; keep :func:`run_aster`
    for what is about the process itself (the installed script, start-up imports, signals,
    a tty) and for commands that dial a peer (the runtime's event loop; some end their
    process with ``os._exit`` once the answer is printed). ``timeout`` is accepted for
    symmetry with :func:`run_aster` and ignored.
    """
    import click.formatting
    from click.testing import CliRunner

    from . import output
    from .host import set_host
    from .main import main

    full_env: dict[str, str | None] = dict(env or {})
    if plugins is not None:
        names = list(plugins)
        full_env["ASTER_PLUGINS"] = ",".join(names) if names else "-"
    old_cwd, old_path, old_modules, old_environ = os.getcwd(), list(sys.path), set(sys.modules), dict(os.environ)
    set_host(None)
    output.reset_consoles()
    code: int | str | None = 0
    try:
        with CliRunner().isolation(input=input, env=full_env) as (out, err, _):
            # help wraps where it does in a subprocess, whose stdout is a pipe, not a terminal
            # (the runner forces 80 columns; isolation() puts the old value back)
            columns = os.environ.get("COLUMNS", "")
            click.formatting.FORCED_WIDTH = max(min(int(columns) if columns.isdigit() else 80, 80) - 2, 50)
            if cwd is not None:
                os.chdir(cwd)
            try:
                main(list(args))
            except SystemExit as exc:
                code = exc.code
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                stdout, stderr = out.getvalue().decode(), err.getvalue().decode("utf-8", "replace")
    finally:
        os.chdir(old_cwd)
        if os.environ != old_environ:  # what the command itself set, beyond ``env``
            os.environ.clear()
            os.environ.update(old_environ)
        _forget_added_paths(old_path, old_modules)
        set_host(None)
        output.reset_consoles()
    returncode = code if isinstance(code, int) else (0 if code is None else 1)
    return subprocess.CompletedProcess(["aster", *args], returncode, stdout, stderr)


def _forget_added_paths(old_path: list[str], old_modules: set[str]) -> None:
    """Undo what a command added to ``sys.path`` (``contract gen`` adds the current directory)
    and forget the modules it imported from there, so the next call imports them afresh."""
    added = [p for p in sys.path if p not in old_path]
    sys.path[:] = old_path
    if not added:
        return
    roots = [os.path.abspath(p or os.curdir) + os.sep for p in added]
    for name in set(sys.modules) - old_modules:
        origin = getattr(sys.modules.get(name), "__file__", None)
        if origin and any(os.path.abspath(origin).startswith(root) for root in roots):
            del sys.modules[name]
    for path in added:
        sys.path_importer_cache.pop(path, None)


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
