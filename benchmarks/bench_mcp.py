#!/usr/bin/env python3
"""`aster mcp`: time from spawn to `initialize` and to `tools/list`, and the cost of a tool call.

Measured against a real AsterServer on loopback (the test harness's EchoService),
speaking raw JSON-RPC over the process's pipes, as an agent's client does:

- spawn -> `initialize` answered, and spawn -> `tools/list` answered (median of
  several spawns), beside the floor of importing the MCP SDK's server alone;
- per call: `tools/call EchoService.echo` through `aster mcp`, against the same
  call made directly with the runtime's client (`AsterClient.proxy`) and with
  `aster_connect` (what the bridge uses), interleaved in one run.

The released `aster mcp` (aster-cli 0.1.2) answers `initialize` 1.49 s after spawn
on this machine (issue 5). Run from the repository root:
`python benchmarks/bench_mcp.py [--rounds 7] [--calls 200]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from _timing import BIN, ROOT, McpPipe, compile_sources, wall

sys.path.insert(0, str(ROOT))
ASTER = str(BIN / "aster")
RELEASED_INITIALIZE_S = 1.49
ECHO = {"text": "bench", "times": 2}


def initialize(pipe: McpPipe) -> dict:
    result = pipe.call("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                      "clientInfo": {"name": "bench", "version": "0"}})
    pipe.send("notifications/initialized", notify=True)
    return result


def startup(address: str, env: dict[str, str], rounds: int) -> tuple[list[float], list[float], int]:
    init_times, list_times, tools = [], [], 0
    for _ in range(rounds):
        pipe = McpPipe([ASTER, "mcp", address], env)
        try:
            initialize(pipe)
            init_times.append(time.perf_counter() - pipe.started)
            tools = len(pipe.call("tools/list", {})["tools"])
            list_times.append(time.perf_counter() - pipe.started)
        finally:
            pipe.close()
    return init_times, list_times, tools


def mcp_calls(address: str, env: dict[str, str], calls: int) -> list[float]:
    pipe = McpPipe([ASTER, "mcp", address], env)
    try:
        initialize(pipe)
        pipe.call("tools/list", {})
        out = []
        for i in range(calls + 20):
            start = time.perf_counter()
            result = pipe.call("tools/call", {"name": "EchoService.echo", "arguments": ECHO})
            elapsed = time.perf_counter() - start
            assert not result.get("isError"), result
            if i >= 20:
                out.append(elapsed)
        return out
    finally:
        pipe.close()


async def direct_calls(address: str, calls: int) -> tuple[list[float], list[float]]:
    """The same call with the runtime's own client, and with aster_connect."""
    from aster import AsterClient
    from aster_connect.client import connect

    runtime, bridge = [], []
    client = AsterClient(address=address)
    await client.connect()
    conn = await connect(address)
    try:
        proxy = client.proxy("EchoService")
        for i in range(calls + 20):
            start = time.perf_counter()
            await proxy.echo(dict(ECHO))
            a = time.perf_counter() - start
            start = time.perf_counter()
            await conn.call("EchoService", "echo", dict(ECHO))
            b = time.perf_counter() - start
            if i >= 20:
                runtime.append(a)
                bridge.append(b)
    finally:
        await client.close()
        await conn.close()
    return runtime, bridge


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:7.1f} ms (p90 {sorted(values)[int(len(values) * 0.9) - 1] * 1000:.1f})"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7, help="spawns for the start-up figures")
    parser.add_argument("--calls", type=int, default=200, help="calls for the per-call figures")
    args = parser.parse_args()
    os.environ["ASTER_RELAY_MODE"] = "disabled"
    env = dict(os.environ)
    compile_sources()
    from tests.support.server import start_server

    with start_server(("echo", "session")) as server:
        address = server.address
        sdk_floor = statistics.median(
            wall([sys.executable, "-c", "import mcp.server.lowlevel, mcp.server.stdio"]) for _ in range(args.rounds))
        python_floor = statistics.median(wall([sys.executable, "-c", "pass"]) for _ in range(args.rounds))
        init_times, list_times, tools = startup(address, env, args.rounds)
        through_mcp = mcp_calls(address, env, args.calls)
        from aster_connect.client import run  # imports the runtime before the loop (runtime-notes)

        runtime, bridge = run(direct_calls(address, args.calls))

    init = statistics.median(init_times)
    print("aster mcp start-up (spawn -> answer, median of %d spawns)" % args.rounds)
    print(f"  initialize               {init * 1000:7.1f} ms   released aster-cli 0.1.2: "
          f"{RELEASED_INITIALIZE_S * 1000:.0f} ms  ratio {init / RELEASED_INITIALIZE_S:.2f}")
    print(f"  initialize + tools/list  {statistics.median(list_times) * 1000:7.1f} ms   ({tools} tools)")
    print(f"  floor: python -c pass    {python_floor * 1000:7.1f} ms; importing the MCP SDK server "
          f"{sdk_floor * 1000:.1f} ms")
    print("per call, EchoService.echo (median of %d)" % args.calls)
    print(f"  tools/call via aster mcp   {ms(through_mcp)}")
    print(f"  runtime AsterClient.proxy  {ms(runtime)}")
    print(f"  aster_connect conn.call    {ms(bridge)}")
    overhead = statistics.median(through_mcp) - statistics.median(runtime)
    print(f"  MCP overhead over the runtime's client: {overhead * 1000:+.1f} ms per call, ratio "
          f"{statistics.median(through_mcp) / statistics.median(runtime):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
