#!/usr/bin/env python3
"""`aster shell` start-up against a producer with many services: spawn -> prompt, and -> first call.

Against a real AsterServer on loopback serving ``tests.support.scale`` (``Svc<N>``, 10
unary methods each), each run spawns ``aster shell ADDRESS`` fed a script on stdin and
times, from spawn:

- ``prompt``: the ``Connected to ...`` line, written just before the shell reads its
  first command (what a person waits for before typing);
- ``call``: the answer of ``cd Svc5`` + ``./m1 text=a n=2`` (the one manifest it needs).

Series, interleaved run by run: ours with a cold manifest cache (a fresh cache per run)
and a warm one; with ``--baseline REV`` also the connect family as it was at git
revision ``REV`` (its ``plugins/connect`` exported to a temporary folder and put first
on ``PYTHONPATH``, everything else the same), so before/after is measured side by side.

Run from the repository root:
``.venv/bin/python benchmarks/bench_shell.py [--runs 20] [--services 100] [--baseline main]``.
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

from _timing import BIN, ROOT, compile_sources

sys.path.insert(0, str(ROOT))
OURS = str(BIN / "aster")
SCRIPT = "cd Svc5\n./m1 text=a n=2\n"


def shell_run(address: str, env: dict[str, str]) -> dict:
    """Seconds from spawn to the prompt note and to the call's answer (None when missing)."""
    start = time.perf_counter()
    proc = subprocess.Popen([OURS, "shell", address, "--json"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, text=True)
    out: dict = {"prompt": None, "call": None}
    assert proc.stderr is not None and proc.stdout is not None and proc.stdin is not None
    try:
        for line in proc.stderr:
            if line.startswith("Connected to"):
                out["prompt"] = time.perf_counter() - start
                break
        proc.stdin.write(SCRIPT)
        proc.stdin.flush()
        for line in proc.stdout:
            if '"aa"' in line:
                out["call"] = time.perf_counter() - start
                break
        proc.stdin.close()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return out


def export_baseline(rev: str, into: Path) -> Path:
    """``plugins/connect`` at git revision ``rev``, as files under ``into``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "plugins/connect"], check=True,
                             capture_output=True).stdout
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "plugins" / "connect"


def line(label: str, values: list[float | None]) -> tuple[float | None, str]:
    got = [v for v in values if v is not None]
    if not got:
        return None, f"  {label:<30} no answer in any run"
    median = statistics.median(got)
    missing = len(values) - len(got)
    return median, (f"  {label:<30} median {median * 1000:7.1f} ms  worst {max(got) * 1000:7.1f} ms"
                    + (f"  missing {missing}/{len(values)}" if missing else ""))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20, help="runs per series (default 20)")
    parser.add_argument("--services", type=int, default=100, help="services the producer offers (default 100)")
    parser.add_argument("--baseline", help="git revision whose plugins/connect to measure alongside")
    args = parser.parse_args()
    compile_sources()
    from tests.support import scale
    from tests.support.server import start_server

    base_env = {**os.environ, "NO_COLOR": "1", "ASTER_LOG_LEVEL": "warning", "ASTER_RELAY_MODE": "disabled"}
    with tempfile.TemporaryDirectory(prefix="bench-shell-") as tmp:
        scratch = Path(tmp)
        base_env["ASTER_HOME"] = str(scratch / "home")
        subjects = {"ours": base_env}
        if args.baseline:
            old = export_baseline(args.baseline, scratch / "baseline")
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(old)], check=False)
            subjects[f"at {args.baseline}"] = {**base_env, "PYTHONPATH": os.pathsep.join(
                [str(old), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
        results: dict[tuple[str, str], list[dict]] = {}
        with start_server(scale.specs(args.services), timeout=180, max_lifetime=3600) as srv:
            for name, env in subjects.items():  # fill the warm caches (untimed)
                shell_run(srv.address, {**env, "ASTER_MANIFEST_CACHE_DIR": str(scratch / f"warm-{name}")})
            for run in range(args.runs):
                for cache in ("cold", "warm"):
                    for name, env in subjects.items():
                        folder = scratch / (f"warm-{name}" if cache == "warm" else f"cold-{name}-{run}")
                        results.setdefault((name, cache), []).append(
                            shell_run(srv.address, {**env, "ASTER_MANIFEST_CACHE_DIR": str(folder)}))
                        if cache == "cold":
                            shutil.rmtree(folder, ignore_errors=True)
    print(f"aster shell, {args.services} services x 10 methods, {args.runs} runs per series "
          f"(load: {os.getloadavg()[0]:.2f})")
    medians: dict[tuple[str, str, str], float | None] = {}
    for (name, cache), series in results.items():
        print(f" {name}, {cache} cache:")
        for key, label in (("prompt", "spawn -> prompt"), ("call", "spawn -> cd Svc5, ./m1 answered")):
            medians[(name, cache, key)], text = line(label, [r[key] for r in series])
            print(text)
    if args.baseline:
        print(" ratios, ours / baseline (medians):")
        for cache in ("cold", "warm"):
            for key in ("prompt", "call"):
                a, b = medians[("ours", cache, key)], medians[(f"at {args.baseline}", cache, key)]
                print(f"  {cache} {key:<7} " + (f"{a / b:5.2f}x" if a and b else "n/a"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
