"""`aster contract gen` on a 50-method service against the runtime's own id function, same run.

Three measurements, interleaved round by round so machine noise hits them alike:

- ``gen``: ``aster contract gen --service bench50:Bench50 --out ...`` (a fresh process: start-up,
  import of the runtime and the service, manifest with nested types, atomic write);
- ``python+id``: a fresh ``python -c`` that imports the service and calls
  ``aster.contract.contract_id_from_service`` once (the floor for any process computing the id);
- ``in-process``: ``contract_id_from_service`` called in this process (already imported).

Prints medians and the ratios gen/python+id and gen/in-process. The manifest's id is checked
against the in-process one first, so the benchmark measures a correct result.

    .venv/bin/python benchmarks/bench_contract.py [--rounds 11]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import BIN, compile_sources, wall  # noqa: E402

METHODS = 50


def service_source(methods: int) -> str:
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
    lines += ['@service(name="Bench50", version=1)', "class Bench50:"]
    for i in range(methods):
        if i % 5 == 4:
            lines += ["    @server_stream", f"    async def m{i}(self, request: Req{i}) -> AsyncIterator[Resp{i}]:",
                      f"        yield Resp{i}()", ""]
        else:
            lines += ["    @rpc", f"    async def m{i}(self, request: Req{i}) -> Resp{i}:",
                      f"        return Resp{i}()", ""]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11)
    args = parser.parse_args()
    compile_sources()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "bench50.py").write_text(service_source(METHODS))
        env = dict(os.environ, PYTHONPATH=str(work), ASTER_RELAY_MODE="disabled", ASTER_PLUGINS="aster-contract",
                   ASTER_HOME=str(work / "home"))
        out = work / "manifest.json"
        gen = [str(BIN / "aster"), "contract", "gen", "--service", "bench50:Bench50", "--out", str(out)]
        python_id = [sys.executable, "-c", "import bench50; from aster.contract import contract_id_from_service as c;"
                     "print(c(bench50.Bench50))"]

        sys.path.insert(0, str(work))
        import bench50
        from aster.contract import contract_id_from_service

        expected = contract_id_from_service(bench50.Bench50)
        wall(gen, env=env)
        manifest = json.loads(out.read_text())
        assert manifest["contract_id"] == expected and manifest["method_count"] == METHODS, "wrong manifest"

        times: dict[str, list[float]] = {"gen": [], "python+id": [], "in-process": []}
        wall(python_id, env=env)
        for _ in range(args.rounds):
            times["gen"].append(wall(gen, env=env))
            times["python+id"].append(wall(python_id, env=env))
            start = time.perf_counter()
            contract_id_from_service(bench50.Bench50)
            times["in-process"].append(time.perf_counter() - start)
    med = {name: statistics.median(values) for name, values in times.items()}
    print(f"{METHODS}-method service, {args.rounds} rounds (medians)")
    for name, value in med.items():
        print(f"  {name:<11} {value * 1000:9.1f} ms")
    print(f"  ratio gen / python+id   {med['gen'] / med['python+id']:6.2f}x")
    print(f"  ratio gen / in-process  {med['gen'] / med['in-process']:6.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
