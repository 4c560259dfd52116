"""Shared timing for the benchmarks: interleaved runs, medians, ratios in one run.

Machines here are shared and noisy, so every benchmark measures its subject
and its baseline alternately in the same run and reports the ratio of medians.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BARE_CLICK = [sys.executable, "-c",
              "import click\n@click.group()\ndef g():\n    'x'\ng(['--help'], standalone_mode=False)"]


def compile_sources() -> None:
    """Byte-compile our editable sources first, as a wheel install would.

    Editable installs leave no .pyc files, and with PYTHONDONTWRITEBYTECODE set
    (as on these machines) every run would recompile them from source: that is
    not what an installed `aster` does, so it must not be what we measure.
    """
    import compileall

    for folder in ("core", "plugins", "examples"):
        compileall.compile_dir(str(ROOT / folder), quiet=2, force=False)


def wall(cmd: Sequence[str], *, env: dict | None = None, input: str | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(list(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, input=input,
                   text=input is not None, check=False)
    return time.perf_counter() - start


def peak_rss_mib(cmd: Sequence[str], *, env: dict | None = None) -> float:
    """Peak resident memory of one run of ``cmd`` (via wait4's rusage)."""
    proc = subprocess.Popen(list(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, _, usage = os.wait4(proc.pid, 0)
    return usage.ru_maxrss / 1024


def compare(subjects: dict[str, Sequence[str]], baseline: Sequence[str], *, rounds: int = 15,
            env: dict | None = None) -> dict[str, tuple[float, float, float]]:
    """Median seconds of each subject and the baseline, interleaved; returns
    name -> (subject median, baseline median, ratio)."""
    times: dict[str, list[float]] = {name: [] for name in subjects}
    base: list[float] = []
    for cmd in [*subjects.values(), baseline]:
        wall(cmd, env=env)  # warm the page cache and .pyc files
    for _ in range(rounds):
        base.append(wall(baseline, env=env))
        for name, cmd in subjects.items():
            times[name].append(wall(cmd, env=env))
    b = statistics.median(base)
    return {name: (statistics.median(t), b, statistics.median(t) / b) for name, t in times.items()}


def report(title: str, results: dict[str, tuple[float, float, float]], budgets: dict[str, float]) -> bool:
    ok = True
    print(title)
    for name, (subject, base, ratio) in results.items():
        budget = budgets.get(name)
        verdict = "" if budget is None else ("  within budget" if ratio <= budget else "  OVER BUDGET")
        ok &= budget is None or ratio <= budget
        print(f"  {name:<28} {subject*1000:7.1f} ms  baseline {base*1000:7.1f} ms  ratio {ratio:5.2f}"
              + (f" (budget {budget})" if budget else "") + verdict)
    return ok
