"""Wall time of `aster trust sign consumer` and `aster enroll node` against a bare click group.

Each round runs the three commands as fresh processes, in rotating order (interleaved, so
machine noise hits all of them alike); the medians are compared. Budget: each command at
most 2.5x the bare click group's `--help`. Exit status 1 when over budget.

    .venv/bin/python benchmarks/bench_trust.py [--rounds 21]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET = 2.5
BARE_CLICK = """
import click

@click.group()
def cli():
    "A bare click group."

@cli.command()
def hello():
    "Say hello."

cli(["--help"])
"""


def _aster() -> str:
    candidate = Path(sys.executable).with_name("aster")
    return str(candidate) if candidate.exists() else (shutil.which("aster") or "aster")


def _time(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({result.returncode}): {result.stderr.strip()}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench-trust-"))
    env = {**os.environ, "ASTER_HOME": str(work / "home"), "ASTER_RELAY_MODE": "disabled", "NO_COLOR": "1"}
    env.pop("ASTER_PLUGINS", None)  # every installed family loads, as for a user
    aster = _aster()
    try:
        subprocess.run([aster, "trust", "keygen", "root", "--out", "root.key"], cwd=work, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        commands = {
            "bare click --help": [sys.executable, "-c", BARE_CLICK],
            "aster trust sign consumer": [aster, "trust", "sign", "consumer", "--root-key", "root.key", "--type",
                                          "ott", "--attr", "aster.role=reader", "--out", "c.json", "--force"],
            "aster enroll node -q": [aster, "enroll", "node", "--role", "consumer", "--name", "bench",
                                     "--capabilities", "reader", "--root-key", "root.key", "-q"],
            "aster enroll node (summary)": [aster, "enroll", "node", "--role", "consumer", "--name", "bench",
                                            "--capabilities", "reader", "--root-key", "root.key"],
        }
        for cmd in commands.values():  # warm the OS caches once
            _time(cmd, work, env)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        names = list(commands)
        for round_no in range(args.rounds):
            shift = round_no % len(names)
            for name in names[shift:] + names[:shift]:
                samples[name].append(_time(commands[name], work, env))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    medians = {name: statistics.median(values) for name, values in samples.items()}
    base = medians["bare click --help"]
    print(f"{args.rounds} interleaved rounds, medians (budget {BUDGET}x the bare click group):")
    over = False
    for name, value in medians.items():
        ratio = value / base
        verdict = "" if name.startswith("bare") else ("  ok" if ratio <= BUDGET else "  OVER BUDGET")
        over |= ratio > BUDGET
        print(f"  {name:28s} {value * 1000:7.1f} ms   ratio {ratio:4.2f}x{verdict}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
