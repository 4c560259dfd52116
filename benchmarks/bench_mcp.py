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

With ``--versus-released`` (default services ``1,20,100``) it first measures, side by side
and run by run against the released tool in its own venv (``benchmarks/.venv-released``,
installed on first use as in ``bench_scale.py``), both with a warm manifest cache, spawn ->
``initialize``, spawn -> ``tools/list`` and spawn -> the first ``tools/call`` answered (sent
right after ``tools/list``), over the generated services of ``tests.support.scale``. Goals:
``tools/list`` <= 0.5x the released tool's with 1 service, and at 20 and 100 services no
worse than before it was answered without the SDK (0.80x and 0.46x).
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


#: tools/list against the released tool's before it was answered without the SDK (README, 2026-12-07)
BEFORE_LIST_RATIO = {1: 1.12, 20: 0.80, 100: 0.46}
LIST_GOAL_ONE_SERVICE = 0.5


def versus_released(counts: list[int], runs: int, env: dict[str, str]) -> None:
    """Ours and the released tool, run by run, warm caches, over ``scale`` services."""
    import tempfile
    from pathlib import Path

    from bench_scale import RELEASED, ensure_released, mcp_run

    from tests.support import scale
    from tests.support.server import start_server

    if not ensure_released():
        print("could not install aster-cli 0.1.2: no comparison with the released tool", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory(prefix="aster-bench-mcp-") as tmp:
        ours_env = {**env, "ASTER_MANIFEST_CACHE_DIR": str(Path(tmp) / "ours-cache")}
        released_env = {**env, "HOME": str(Path(tmp) / "released-home")}
        Path(released_env["HOME"]).mkdir()
        print(f"aster mcp vs the released aster-cli 0.1.2, warm caches, {runs} interleaved runs "
              f"(load average {os.getloadavg()[0]:.1f})")
        for services in counts:
            expected = services * scale.METHODS + 1
            with start_server(scale.specs(services) + ["tests.support.scale:Payload"], timeout=180,
                              max_lifetime=7200) as srv:
                tools = {"ours": (ASTER, ours_env), "released": (RELEASED, released_env)}
                for exe, tool_env in tools.values():  # fill the caches (untimed)
                    mcp_run(exe, srv.address, tool_env, expected)
                series: dict[str, list[dict]] = {name: [] for name in tools}
                for _ in range(runs):
                    for name, (exe, tool_env) in tools.items():
                        series[name].append(mcp_run(exe, srv.address, tool_env, expected))
            med = {}
            for name, runs_of in series.items():
                for key in ("init", "list", "call"):
                    values = [r[key] for r in runs_of if r[key] is not None]
                    med[(name, key)] = statistics.median(values) if values else float("nan")
                first_calls = [r["list"] + r["call"] for r in runs_of if r["list"] is not None and r["call"] is not None]
                med[(name, "first")] = statistics.median(first_calls) if first_calls else float("nan")
                med[(name, "lost")] = sum(r["lost"] for r in runs_of)
            print(f"  {services} service(s), {expected} tools:")
            for key, label in (("init", "spawn -> initialize"), ("list", "spawn -> tools/list"),
                               ("first", "spawn -> first tools/call")):
                ours, released = med[("ours", key)], med[("released", key)]
                print(f"    {label:<26} ours {ours * 1000:7.1f} ms  released {released * 1000:7.1f} ms  "
                      f"ratio {ours / released:5.2f}")
            ratio = med[("ours", "list")] / med[("released", "list")]
            goal = LIST_GOAL_ONE_SERVICE if services == 1 else BEFORE_LIST_RATIO.get(services)
            if goal is not None:
                print(f"    tools/list ratio {ratio:.2f} (goal <= {goal:.2f}x: {'met' if ratio <= goal else 'NOT MET'}; "
                      f"before: {BEFORE_LIST_RATIO.get(services, float('nan')):.2f}x); runs that lost tools: "
                      f"ours {med[('ours', 'lost')]}, released {med[('released', 'lost')]}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7, help="spawns for the start-up figures")
    parser.add_argument("--calls", type=int, default=200, help="calls for the per-call figures")
    parser.add_argument("--versus-released", nargs="?", const="1,20,100", metavar="SERVICES",
                        help="compare start-up with the released tool over these service counts first")
    parser.add_argument("--runs", type=int, default=15, help="runs per tool and service count (--versus-released)")
    args = parser.parse_args()
    os.environ["ASTER_RELAY_MODE"] = "disabled"
    env = dict(os.environ)
    compile_sources()
    if args.versus_released:
        versus_released([int(n) for n in args.versus_released.split(",") if n.strip()], args.runs,
                        {**env, "NO_COLOR": "1", "ASTER_LOG_LEVEL": "warning"})
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
