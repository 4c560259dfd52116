#!/usr/bin/env python3
"""1,000 unary calls through `aster call ADDR --batch` against 1,000 separate `aster call` processes.

Against a real AsterServer on loopback (the test harness's EchoService v1), in one run, round
by round so machine noise hits both alike:

- ``batch``: wall time of ``aster call ADDR --batch`` fed 1,000 JSON lines on stdin (a fresh
  process: start-up, connect and admission, the method's manifest, 1,000 calls over one
  connection with 8 in flight, every result line written);
- ``processes``: wall time of single ``aster call ADDR EchoService@1.echo '{...}' --json``
  processes run one after the other, as a shell loop would. 1,000 of them take minutes, so
  ``--processes N`` (default 100, spread over the rounds) are measured and their total is
  scaled linearly to 1,000 (each process is independent of the others: the per-process time
  does not depend on how many ran before); the output says so. ``--processes 1000`` measures
  them all.

Goal: batch <= 0.05x the 1,000 processes. Run from the repository root:
``python benchmarks/bench_batch.py [--rounds 5] [--calls 1000] [--processes 100]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from _timing import BIN, ROOT, compile_sources, wall

sys.path.insert(0, str(ROOT))
GOAL = 0.05


def batch_input(calls: int) -> str:
    return "".join(json.dumps({"method": "EchoService@1.echo", "args": {"text": f"b{n}", "times": 2}}) + "\n"
                   for n in range(calls))


def timed_batch(cmd: list[str], text: str, env: dict, calls: int) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, input=text, capture_output=True, text=True, env=env, timeout=600)
    took = time.perf_counter() - start
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0 and len(lines) == calls, (proc.returncode, proc.stderr[-2000:])
    last = json.loads(lines[-1])
    assert last["line"] == calls and last["result"]["joined"] == f"b{calls - 1} b{calls - 1}", last
    return took


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=1000, help="calls in the batch (and the processes' target)")
    parser.add_argument("--processes", type=int, default=100, help="single-call processes actually run")
    args = parser.parse_args()
    from tests.support.server import start_server

    compile_sources()
    env = {**os.environ, "ASTER_RELAY_MODE": "disabled", "NO_COLOR": "1"}
    text = batch_input(args.calls)
    per_round = max(1, -(-args.processes // args.rounds))
    with start_server(("echo",)) as server:
        aster = str(BIN / "aster")
        batch = [aster, "call", server.address, "--batch"]
        wide = [*batch, "--parallel", "32"]
        single = [aster, "call", server.address, "EchoService@1.echo", '{"text": "p", "times": 2}', "--json"]
        check = subprocess.run(single, capture_output=True, text=True, env=env, timeout=60)
        assert check.returncode == 0 and json.loads(check.stdout)["joined"] == "p p", check
        timed_batch(batch, text, env, args.calls)  # warm-up: page cache, .pyc files, manifest cache
        batches, wides, singles = [], [], []
        for _ in range(args.rounds):
            batches.append(timed_batch(batch, text, env, args.calls))
            for _ in range(per_round):
                if len(singles) < args.processes:
                    singles.append(wall(single, env=env))
            wides.append(timed_batch(wide, text, env, args.calls))
    b, w = statistics.median(batches), statistics.median(wides)
    measured = sum(singles)
    scale = args.calls / len(singles)
    processes = measured * scale
    ratio = b / processes
    load = os.getloadavg()[0]
    print(f"{args.calls} unary calls: aster call --batch vs separate aster call processes "
          f"({args.rounds} interleaved rounds, load {load:.1f})")
    print(f"  --batch (8 in flight), wall, median     {b * 1000:9.1f} ms  ({b / args.calls * 1000:.2f} ms per call, "
          f"start-up included)")
    print(f"  --batch --parallel 32, wall, median     {w * 1000:9.1f} ms")
    if len(singles) == args.calls:
        print(f"  {args.calls} processes, measured               {processes * 1000:9.1f} ms")
    else:
        print(f"  {args.calls} processes, scaled linearly from {len(singles)} measured "
              f"({measured * 1000:.0f} ms; median {statistics.median(singles) * 1000:.1f} ms each) "
              f"{processes * 1000:9.1f} ms")
    verdict = "goal met" if ratio <= GOAL else "GOAL MISSED"
    print(f"  ratio batch / processes: {ratio:.4f}x (goal <= {GOAL}x): {verdict}; "
          f"--parallel 32: {w / processes:.4f}x")
    return 0 if ratio <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
