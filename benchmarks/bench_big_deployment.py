"""One device into a big deployment, and `aster authority status`, against a checkout of the
code before (its sources put first on PYTHONPATH, so the same venv runs it), timed alternately.

    .venv/bin/python benchmarks/bench_big_deployment.py --base DIR [--devices 17000] [--rounds 6]

A real `aster authority serve` on 127.0.0.1 (SQLite in a temp dir). The deployment is filled with
`provision --count 1000` runs, then each round times, ours then the base's:

- `aster dev ID provision --out FILE`: one device. Before it signs, provisioning fetches and
  verifies the deployment's whole decision chain and replays it one step further (the
  registration it is about to decide), so its cost grows with the deployment;
- `aster authority status`: a dial, one call, and the connection's end.

Prints each median and the ratio ours / base (no budget: a report).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import ROOT, authority_server, compile_sources, fresh_root  # noqa: E402

sys.path.insert(0, str(ROOT))
os.environ.setdefault("ASTER_RELAY_MODE", "disabled")


def source_path(checkout: Path) -> str:
    """PYTHONPATH that runs ``checkout``'s distributions instead of the installed ones."""
    folders = [checkout / "core", checkout / "lib" / "server", *sorted(p for p in (checkout / "plugins").iterdir()
                                                                      if p.is_dir())]
    return os.pathsep.join(str(f) for f in folders)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", type=Path, required=True, help="a checkout of the code to compare with")
    ap.add_argument("--devices", type=int, default=17000)
    ap.add_argument("--rounds", type=int, default=6)
    args = ap.parse_args()
    compile_sources()

    tmp, root = fresh_root("bench-big-deployment-")
    aster = str(Path(sys.executable).with_name("aster"))
    with authority_server(tmp, root, str(tmp / "authority.db")) as (_address, env, _admin):
        base_env = dict(env, PYTHONPATH=source_path(args.base.resolve()))

        def timed(*argv: str, environment: dict[str, str] = env) -> float:
            t = time.perf_counter()
            subprocess.run([aster, *argv], env=environment, cwd=tmp, check=True, capture_output=True, timeout=300)
            return time.perf_counter() - t

        timed("dev", "big", "create", "--role", "telemetry")
        t = time.perf_counter()
        for batch in range(-(-args.devices // 1000)):
            count = min(1000, args.devices - batch * 1000)
            timed("dev", "big", "provision", "--count", str(count), "--out-dir", f"batch{batch}",
                  "--root-key", str(tmp / "root.key"))
        print(f"{args.devices:,} devices provisioned in {time.perf_counter() - t:.1f} s")
        cases = {"one device into the deployment": lambda n, e: ("dev", "big", "provision", "--out",
                                                                 f"{n}.bundle.json", "--root-key",
                                                                 str(tmp / "root.key")),
                 "aster authority status": lambda n, e: ("authority", "status")}
        for name, argv in cases.items():
            ours, base = [], []
            for n in range(args.rounds):
                ours.append(timed(*argv(f"ours{n}", env)))
                base.append(timed(*argv(f"base{n}", base_env), environment=base_env))
            a, b = statistics.median(ours), statistics.median(base)
            print(f"  {name:<32} {a * 1000:7.0f} ms  base {b * 1000:7.0f} ms  ratio {a / b:5.2f}  "
                  f"(median of {args.rounds}, alternately; load {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
