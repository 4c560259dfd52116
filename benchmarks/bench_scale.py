#!/usr/bin/env python3
"""Growing the work: `aster mcp` and `aster call` against 1/20/100 services of 10 methods.

Side by side in one run, against a real AsterServer on loopback serving the generated
services of ``tests.support.scale`` (``Svc<N>``, 10 unary methods each, plus ``Payload``):

- ``aster mcp``: spawn -> ``initialize`` answered, -> ``tools/list`` answered, and one
  ``tools/call Svc0.m0`` (its own time), with a cold manifest cache (a fresh cache per
  run) and a warm one; ours and the released ``aster-cli 0.1.2`` alternate run by run.
  Each series counts the runs that lost tools (fewer than expected, or an error) and the
  runs whose tools/list or call took over 2x the series' median ("stalled").
- ``aster call Svc5.m1`` (100 services) and ``aster call Payload.sized`` with 1 KB /
  100 KB / 1 MB answers, against the runtime's own client in a fresh process doing the
  same (import, connect, call, close: ``IN_PROCESS``) and the released CLI.

The released CLI is installed on first use in ``benchmarks/.venv-released`` (pip,
``aster-cli==0.1.2`` with an ``mcp<2`` SDK of its time); its cache lives in its
``HOME`` (``~/.aster/cache/manifests``), a fresh one per cold run.

Goals (issue 11): spawn-to-initialize <= 0.6x the released tool's warm; at 100 services
0 of N runs with missing tools or a stalled call; tools/list <= 0.5x released warm;
call <= 1.1x the runtime's in-process client. Run from the repository root:
``.venv/bin/python benchmarks/bench_scale.py [--runs 50] [--services 1,20,100] [--no-released]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _timing import BIN, ROOT, McpPipe, compile_sources

sys.path.insert(0, str(ROOT))
OURS = str(BIN / "aster")
RELEASED_VENV = ROOT / "benchmarks" / ".venv-released"
RELEASED = str(RELEASED_VENV / "bin" / "aster")
SIZES = {"1 KB": 1024, "100 KB": 100 * 1024, "1 MB": 1024 * 1024}

IN_PROCESS = """
import asyncio, json, sys
import aster
from aster import AsterClient

async def main():
    client = AsterClient(address=sys.argv[1])
    await client.connect()
    reply = await getattr(client.proxy(sys.argv[2]), sys.argv[3])(json.loads(sys.argv[4]))
    await client.close()
    return reply

reply = asyncio.run(main())
assert reply, reply
"""


def ensure_released() -> bool:
    if Path(RELEASED).exists():
        return True
    print(f"installing aster-cli 0.1.2 into {RELEASED_VENV} (first use) ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(RELEASED_VENV)], check=True)
    pip = [str(RELEASED_VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
    done = subprocess.run([*pip, "aster-cli==0.1.2", "mcp<2"], check=False)
    return done.returncode == 0 and Path(RELEASED).exists()


def mcp_run(exe: str, address: str, env: dict[str, str], expected: int) -> dict:
    """initialize, tools/list and one call: their times, and whether tools were lost."""
    out: dict = {"init": None, "list": None, "call": None, "tools": 0, "error": None, "call_error": None}
    pipe = McpPipe([exe, "mcp", address], env)
    try:
        pipe.call("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                 "clientInfo": {"name": "bench", "version": "0"}})
        out["init"] = time.perf_counter() - pipe.started
        pipe.send("notifications/initialized", notify=True)
        tools = pipe.call("tools/list", {})["tools"]
        out["list"] = time.perf_counter() - pipe.started
        out["tools"] = len(tools)
        name = next((t["name"] for t in tools if "Svc0" in t["name"] and t["name"].endswith("m0")), None)
        if name:
            start = time.perf_counter()
            # only "text": the released CLI types every int field as a string in its input schemas
            result = pipe.call("tools/call", {"name": name, "arguments": {"text": "b"}})
            out["call"] = time.perf_counter() - start
            if result.get("isError"):
                out["call"], out["call_error"] = None, str(result.get("content"))[:120]
    except Exception as exc:  # noqa: BLE001 - counted as a lost run
        out["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        pipe.close()
    out["lost"] = out["error"] is not None or out["tools"] < expected
    return out


def series_line(label: str, runs: list[dict], key: str) -> tuple[float | None, str]:
    values = [r[key] for r in runs if r[key] is not None]
    if not values:
        return None, f"    {label:<34} no answer in any run"
    median = statistics.median(values)
    slow = sum(1 for v in values if v > 2 * median)
    return median, (f"    {label:<34} median {median * 1000:7.1f} ms  worst {max(values) * 1000:7.1f} ms  "
                    f">2x median: {slow}/{len(runs)}")


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:5.2f}x" if a and b else "  n/a"


def bench_mcp(address: str, services: int, runs: int, released: bool, base_env: dict[str, str],
              scratch: Path) -> dict:
    expected = services * 10 + 1  # + Payload.sized
    results: dict[tuple[str, str], list[dict]] = {}
    warm_ours = scratch / f"ours-warm-{services}"
    warm_released = scratch / f"released-warm-{services}"
    tools = [("ours", OURS)] + ([("released", RELEASED)] if released else [])

    def env_for(tool: str, cache: str, run: int) -> dict[str, str]:
        if tool == "ours":
            folder = warm_ours if cache == "warm" else scratch / f"ours-cold-{services}-{run}"
            return {**base_env, "ASTER_MANIFEST_CACHE_DIR": str(folder)}
        home = warm_released if cache == "warm" else scratch / f"released-cold-{services}-{run}"
        home.mkdir(parents=True, exist_ok=True)
        return {**base_env, "HOME": str(home)}

    for name, exe in tools:  # fill the warm caches (untimed)
        mcp_run(exe, address, env_for(name, "warm", -1), expected)
    for cache in ("cold", "warm"):
        for run in range(runs):
            for name, exe in tools:
                results.setdefault((name, cache), []).append(mcp_run(exe, address, env_for(name, cache, run),
                                                                     expected))
                if cache == "cold":
                    shutil.rmtree(scratch / f"ours-cold-{services}-{run}", ignore_errors=True)
    print(f"\naster mcp, {services} service(s) x 10 methods ({expected} tools), {runs} runs per series")
    medians: dict[tuple[str, str, str], float | None] = {}
    for (name, cache), series in results.items():
        lost = sum(r["lost"] for r in series)
        calls = [r["call"] for r in series if r["call"] is not None]
        stalled = sum(1 for r in series if r["call"] is None or (calls and r["call"] > 2 * statistics.median(calls)))
        problems = [r["error"] or r["call_error"] for r in series if r["error"] or r["call_error"]]
        print(f"  {name} {cache}: runs with missing tools {lost}/{len(series)}, stalled or failed calls "
              f"{stalled}/{len(series)}" + (f" (e.g. {problems[0]})" if problems else ""))
        for key, label in (("init", "spawn -> initialize"), ("list", "spawn -> tools/list"),
                           ("call", "tools/call Svc0.m0")):
            medians[(name, cache, key)], line = series_line(label, series, key)
            print(line)
    if released:
        print("  ratios to the released CLI's warm cache (goal: initialize <= 0.60x, tools/list <= 0.50x):")
        for cache in ("cold", "warm"):
            print(f"    ours {cache}: initialize {ratio(medians[('ours', cache, 'init')], medians[('released', 'warm', 'init')])}"
                  f"  tools/list {ratio(medians[('ours', cache, 'list')], medians[('released', 'warm', 'list')])}"
                  f"  call {ratio(medians[('ours', cache, 'call')], medians[('released', 'warm', 'call')])}")
    return {"medians": medians, "lost": {k: sum(r["lost"] for r in v) for k, v in results.items()}}


def wall(cmd: list[str], env: dict[str, str]) -> tuple[float, bool]:
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, timeout=120)
    return time.perf_counter() - start, done.returncode == 0


def bench_calls(address: str, services: int, runs: int, released: bool, env: dict[str, str],
                scratch: Path) -> None:
    svc = f"Svc{min(5, services - 1)}"
    cases = [(f"{svc}.m1 ({services} services)", svc, "m1", {"text": "a", "n": 3})]
    cases += [(f"Payload.sized {label}", "Payload", "sized", {"size": size}) for label, size in SIZES.items()]
    rel_env = {**env, "HOME": str(scratch / "released-calls")}
    (scratch / "released-calls").mkdir(exist_ok=True)
    print(f"\naster call end to end (fresh process each; warm cache), {runs} interleaved runs per case")
    for label, service, method, request in cases:
        payload = json.dumps(request)
        commands = {"ours": [OURS, "call", address, f"{service}.{method}", payload, "--json"],
                    "in-process": [sys.executable, "-c", IN_PROCESS, address, service, method, payload]}
        if released:
            commands["released"] = [RELEASED, "call", address, f"{service}.{method}", payload, "--json"]
        times: dict[str, list[float]] = {k: [] for k in commands}
        failures = dict.fromkeys(commands, 0)
        for name, cmd in commands.items():  # warm up (and fill caches)
            wall(cmd, rel_env if name == "released" else env)
        for _ in range(runs):
            for name, cmd in commands.items():
                elapsed, ok = wall(cmd, rel_env if name == "released" else env)
                times[name].append(elapsed)
                failures[name] += not ok
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"  {label}")
        for name in commands:
            slow = sum(1 for v in times[name] if v > 2 * med[name])
            print(f"    {name:<11} median {med[name] * 1000:7.1f} ms  worst {max(times[name]) * 1000:7.1f} ms  "
                  f">2x median {slow}/{runs}  failed {failures[name]}/{runs}")
        line = f"    ours / in-process {ratio(med['ours'], med['in-process'])} (goal <= 1.10x)"
        if released:
            line += f"   ours / released {ratio(med['ours'], med['released'])}"
        print(line)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50, help="runs per series (default 50; 10 for a quick look)")
    parser.add_argument("--services", default="1,20,100", help="comma-separated service counts")
    parser.add_argument("--no-released", action="store_true", help="skip the released aster-cli 0.1.2")
    parser.add_argument("--no-calls", action="store_true", help="skip the aster call series")
    args = parser.parse_args()
    os.environ["ASTER_RELAY_MODE"] = "disabled"
    env = {**os.environ, "NO_COLOR": "1", "ASTER_LOG_LEVEL": "warning"}
    compile_sources()
    released = not args.no_released and ensure_released()
    if not args.no_released and not released:
        print("could not install aster-cli 0.1.2; its columns are left out", file=sys.stderr)
    from tests.support import scale
    from tests.support.server import start_server

    counts = [int(n) for n in args.services.split(",") if n.strip()]
    with tempfile.TemporaryDirectory(prefix="aster-bench-scale-") as tmp:
        scratch = Path(tmp)
        env["ASTER_HOME"] = str(scratch / "home")
        for services in counts:
            with start_server(scale.specs(services) + ["tests.support.scale:Payload"], timeout=180,
                              max_lifetime=7200) as srv:
                bench_mcp(srv.address, services, args.runs, released, env, scratch)
                if services == max(counts) and not args.no_calls:
                    bench_calls(srv.address, services, args.runs, released, env, scratch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
