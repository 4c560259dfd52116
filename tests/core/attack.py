"""Helpers for the adversarial tests of core, trust and enroll (issue 10's classes).

- :func:`unprivileged` runs ``aster`` bound by permission bits (as root, which ignores
  a mode-000 file, without the capabilities that let it).
- :func:`env_without` is the test environment minus some variables (``run_aster``
  only adds to the environment).
- :func:`lock_files` lists every ``*.lock`` left under some directories.
- :func:`nested_json` / :func:`nested_toml` build the deep documents that used to
  end in a RecursionError.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Sequence

import pytest

from aster_core.testing import aster_executable

def env_without(*names: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in names}
    env.update(extra)
    return env


def run_env(args: Sequence[str], env: dict[str, str], *, cwd: str | os.PathLike | None = None,
            plugins: Sequence[str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``aster ARGS`` with exactly ``env`` (nothing inherited)."""
    env = dict(env)
    if plugins is not None:
        env["ASTER_PLUGINS"] = ",".join(plugins) if plugins else "-"
    return subprocess.run([aster_executable(), *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=timeout)


def unprivileged(args: Sequence[str], *, cwd: str | os.PathLike | None = None,
                 plugins: Sequence[str] | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``aster ARGS`` bound by permission bits. Root ignores them, so as root the
    command runs without the capabilities that override them (CAP_DAC_OVERRIDE,
    CAP_DAC_READ_SEARCH), through util-linux's ``setpriv``: a mode-000 file really is
    unreadable then."""
    full = dict(os.environ)
    full.update(env or {})
    if plugins is not None:
        full["ASTER_PLUGINS"] = ",".join(plugins) if plugins else "-"
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without util-linux's setpriv to drop CAP_DAC_OVERRIDE")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
    return subprocess.run([*prefix, aster_executable(), *args], capture_output=True, text=True, env=full,
                          cwd=cwd, timeout=60)


def lock_files(*roots: Path) -> list[Path]:
    found = []
    for root in roots:
        if root.exists():
            found.extend(p for p in root.rglob("*.lock"))
            found.extend(p for p in root.rglob(".*.lock"))
    return sorted(set(found))


def nested_json(depth: int = 1000) -> str:
    return "[" * depth + "]" * depth


def nested_toml(key: str = "deep", depth: int = 1000) -> str:
    return f"{key} = " + "[" * depth + "]" * depth + "\n"


HUGE_INT = "9" * 5000
