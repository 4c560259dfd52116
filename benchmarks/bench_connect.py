#!/usr/bin/env python3
"""`aster call` end to end against the runtime's own client doing the same in-process, same run.

Against a real AsterServer on loopback (the test harness's EchoService v1), interleaved round
by round so machine noise hits every measurement alike:

- ``aster call``: wall time of ``aster call ADDR EchoService.echo '{...}' --json`` (a fresh
  process: start-up, plugin discovery, import of the runtime, connect and admission, the
  method's manifest, the call, clean shutdown);
- ``in-process``: inside a fresh ``python`` process, the time from before ``import aster``
  to after ``AsterClient.connect()`` + ``proxy(...).echo(...)`` + ``close()`` (measured by the
  process itself, so the interpreter's own start-up is not in it);
- ``bare click``: wall time of a bare click group printing its help (interpreter start-up
  plus click: the floor of any click command).

Budget (issue 4): aster call <= (in-process + bare click) * 1.2. The released aster-cli 0.1.2
takes about 1.1 s for one call here. Run from the repository root:
``python benchmarks/bench_connect.py [--rounds 15]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from _timing import BARE_CLICK, BIN, ROOT, compile_sources, wall

sys.path.insert(0, str(ROOT))
RELEASED_CALL_S = 1.1
REQUEST = {"text": "bench", "times": 2}

IN_PROCESS = """
import time
t0 = time.perf_counter()
import asyncio, json, sys
import aster
from aster import AsterClient

async def main():
    client = AsterClient(address=sys.argv[1])
    await client.connect()
    reply = await client.proxy("EchoService").echo(json.loads(sys.argv[2]))
    await client.close()
    return reply

reply = asyncio.run(main())
assert reply["joined"] == "bench bench", reply
print(time.perf_counter() - t0)
"""


def in_process(address: str, env: dict[str, str]) -> float:
    out = subprocess.run([sys.executable, "-c", IN_PROCESS, address, json.dumps(REQUEST)], capture_output=True,
                         text=True, env=env, check=True, timeout=60)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    from tests.support.server import start_server

    compile_sources()
    env = {**os.environ, "ASTER_RELAY_MODE": "disabled", "NO_COLOR": "1"}
    with start_server(("echo",)) as server:
        call = [str(BIN / "aster"), "call", server.address, "EchoService.echo", json.dumps(REQUEST), "--json"]
        check = subprocess.run(call, capture_output=True, text=True, env=env, timeout=60)
        assert check.returncode == 0 and json.loads(check.stdout)["joined"] == "bench bench", check
        in_process(server.address, env)  # warm-up
        wall(call, env=env)
        wall(BARE_CLICK, env=env)
        ours, inproc, click = [], [], []
        for _ in range(args.rounds):
            click.append(wall(BARE_CLICK, env=env))
            inproc.append(in_process(server.address, env))
            ours.append(wall(call, env=env))
            time.sleep(0.05)
    o, i, c = (statistics.median(x) for x in (ours, inproc, click))
    budget = (i + c) * 1.2
    print(f"aster call vs the runtime's client in-process (median of {args.rounds} interleaved rounds)")
    print(f"  aster call (wall)            {o * 1000:7.1f} ms")
    print(f"  in-process connect+call      {i * 1000:7.1f} ms")
    print(f"  bare click group (wall)      {c * 1000:7.1f} ms")
    print(f"  budget (in-process + click) * 1.2 = {budget * 1000:.1f} ms; ratio to budget {o / budget:.2f}"
          + ("  within budget" if o <= budget else "  OVER BUDGET"))
    print(f"  released aster-cli 0.1.2: about {RELEASED_CALL_S * 1000:.0f} ms ({RELEASED_CALL_S / o:.1f}x ours)")
    return 0 if o <= budget else 1


if __name__ == "__main__":
    sys.exit(main())
