"""`aster contract gen` as contracts grow, side by side with the released aster-cli 0.1.2.

For services of 10, 50, 200 and 1,000 methods (each method its own request and response
message, plus one message every response shares), interleaved round by round so machine noise
hits both alike:

- ``ours``: ``aster contract gen --service benchN:BenchN --out ...`` (a fresh process);
- ``released``: the same command of ``aster-cli 0.1.2``, installed on first run into its own
  venv (``benchmarks/.venv-released``: ``python3 -m venv`` + ``pip install aster-cli==0.1.2
  'mcp<2'``; the released CLI imports the MCP SDK 1.x API at start-up);
- at 50 methods also ``python+id``: a fresh Python importing the service and calling the
  runtime's ``contract_id_from_service`` once (the floor for any process computing the id).

Prints medians, the worst run of each series, the time ratio ours/released and the manifest
size ratio. Both manifests' ids are checked against the runtime's own function first, so the
benchmark measures correct results. The service modules are byte-compiled first (as a user's
project normally is), for both tools alike.

Goals (issue 11): 1,000 methods at most 0.5x the released tool's time, manifest at most 1.2x
its size.

    .venv/bin/python benchmarks/bench_contract.py [--rounds 7] [--sizes 10,50,200,1000]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import BIN, compile_sources, wall  # noqa: E402

RELEASED_VENV = Path(__file__).resolve().parent / ".venv-released"
RELEASED = ["aster-cli==0.1.2", "mcp<2"]


def service_source(methods: int, name: str = "Bench50") -> str:
    lines = ["from __future__ import annotations", "from dataclasses import dataclass, field",
             "from typing import AsyncIterator, Optional",
             "from aster import rpc, server_stream, service, wire_type", "",
             '@wire_type("bench/Detail")', "@dataclass", "class Detail:",
             '    note: str = ""', "    scores: list[float] = field(default_factory=list)", ""]
    for i in range(methods):
        lines += [f'@wire_type("bench/Req{i}")', "@dataclass", f"class Req{i}:", '    key: str = ""',
                  f"    n{i}: int = {i}", "    tags: dict[str, str] = field(default_factory=dict)", "",
                  f'@wire_type("bench/Resp{i}")', "@dataclass", f"class Resp{i}:", "    ok: bool = True",
                  "    detail: Optional[Detail] = None", "    items: list[Detail] = field(default_factory=list)", ""]
    lines += [f'@service(name="{name}", version=1)', f"class {name}:"]
    for i in range(methods):
        if i % 5 == 4:
            lines += ["    @server_stream", f"    async def m{i}(self, request: Req{i}) -> AsyncIterator[Resp{i}]:",
                      f"        yield Resp{i}()", ""]
        else:
            lines += ["    @rpc", f"    async def m{i}(self, request: Req{i}) -> Resp{i}:",
                      f"        return Resp{i}()", ""]
    return "\n".join(lines) + "\n"


def released_aster() -> Path:
    """The released CLI's `aster`, installed into its own venv on first use."""
    exe = RELEASED_VENV / "bin" / "aster"
    if not exe.exists():
        print(f"installing {' '.join(RELEASED)} into {RELEASED_VENV} (first run only)...", file=sys.stderr)
        subprocess.run(["python3", "-m", "venv", str(RELEASED_VENV)], check=True)
        (RELEASED_VENV / ".gitignore").write_text("*\n")
        subprocess.run([str(RELEASED_VENV / "bin" / "pip"), "install", "-q", *RELEASED], check=True)
    return exe


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--sizes", default="10,50,200,1000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    released = released_aster()
    compile_sources()
    from aster.contract import contract_id_from_service

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = dict(os.environ, PYTHONPATH=str(work), ASTER_RELAY_MODE="disabled", ASTER_PLUGINS="aster-contract",
                   ASTER_HOME=str(work / "home"))
        sys.path.insert(0, str(work))
        rows = []
        for n in sizes:
            name = f"Bench{n}"
            (work / f"bench{n}.py").write_text(service_source(n, name))
            compileall.compile_file(str(work / f"bench{n}.py"), quiet=2)
            ours_out, rel_out = work / f"ours{n}.json", work / f"released{n}.json"
            spec = f"bench{n}:{name}"
            cmds = {"ours": [str(BIN / "aster"), "contract", "gen", "--service", spec, "--out", str(ours_out)],
                    "released": [str(released), "contract", "gen", "--service", spec, "--out", str(rel_out)]}
            if n == 50:
                cmds["python+id"] = [sys.executable, "-c", f"import bench{n}; from aster.contract import "
                                     f"contract_id_from_service as c; print(c(bench{n}.{name}))"]
            module = __import__(f"bench{n}")
            expected = contract_id_from_service(getattr(module, name))
            for cmd in cmds.values():
                wall(cmd, env=env)  # warm caches; writes both manifests
            for out in (ours_out, rel_out):
                doc = json.loads(out.read_text())
                assert doc["contract_id"] == expected and doc["method_count"] == n, f"wrong manifest {out}"
            times: dict[str, list[float]] = {k: [] for k in cmds}
            for _ in range(args.rounds):
                for key, cmd in cmds.items():
                    times[key].append(wall(cmd, env=env))
            med = {k: statistics.median(v) for k, v in times.items()}
            worst = {k: max(v) for k, v in times.items()}
            size = ours_out.stat().st_size, rel_out.stat().st_size
            rows.append((n, med, worst, size))
            extra = (f"  python+id {med['python+id'] * 1000:7.0f} ms (ours/python+id "
                     f"{med['ours'] / med['python+id']:.2f}x)" if "python+id" in med else "")
            print(f"{n:5d} methods: ours {med['ours'] * 1000:7.0f} ms (worst {worst['ours'] * 1000:6.0f})  "
                  f"released {med['released'] * 1000:7.0f} ms (worst {worst['released'] * 1000:6.0f})  "
                  f"time ratio {med['ours'] / med['released']:.2f}x  "
                  f"manifest {size[0] / 1e6:.2f} MB vs {size[1] / 1e6:.2f} MB = {size[0] / size[1]:.2f}x" + extra,
                  flush=True)
    print(f"{args.rounds} rounds per size (medians); goals at 1,000 methods: time <= 0.5x, manifest <= 1.2x")
    big = next((r for r in rows if r[0] == 1000), None)
    if big is not None:
        n, med, _, size = big
        ok = med["ours"] / med["released"] <= 0.5 and size[0] / size[1] <= 1.2
        print("  1,000 methods: " + ("within the goals" if ok else "OUTSIDE THE GOALS"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
