"""Device provisioning at scale: `aster dev ID provision --count N --out-dir D` (keys derived,
credentials signed, bundles written 0600 and durable, registered in batches of 500, index.csv
last) against signing the same N consumer credentials in-process with aster_trust.

    .venv/bin/python benchmarks/bench_devices.py [--count 1000] [--rounds 3] [--db postgresql://...]

A real `aster authority serve` on 127.0.0.1 (SQLite in a temp dir unless --db). Each round runs
the command (one process, as users run it) and the in-process baseline side by side; prints
the medians and their ratio against the goal (<= 10x), and, for the durable writes, the time of
writing as many bundle-sized files in one pass (client/bundles.py: write all, flush all, name
all, flush the folder once) beside writing them one by one with aster_core's atomic_write
(file and folder flushed each time: what provisioning did before).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import ROOT, authority_server, compile_sources  # noqa: E402

sys.path.insert(0, str(ROOT))
os.environ.setdefault("ASTER_RELAY_MODE", "disabled")


def sign_in_process(root, count: int) -> float:
    from aster_enroll.identity import NodeKey
    from aster_trust import credentials

    attrs = {"aster.deployment": "bench", "aster.role": "telemetry"}
    ids = [NodeKey.generate().endpoint_id for _ in range(count)]
    expires = int(time.time()) + 7 * 86400
    t = time.perf_counter()
    for endpoint in ids:
        credentials.sign(root, "policy", expires_at=expires, attributes=attrs, endpoint_id=endpoint)
    return time.perf_counter() - t


GOAL = 10.0


def write_one_by_one(directory: Path, count: int) -> float:
    """``count`` bundle-sized files through aster_core's atomic_write, one after the other."""
    from aster_core.files import atomic_write

    directory.mkdir()
    body = "x" * 420
    t = time.perf_counter()
    for n in range(count):
        atomic_write(directory / f"{n}.bundle.json", body, mode=0o600, exclusive=True)
    return time.perf_counter() - t


def write_in_one_pass(directory: Path, count: int) -> float:
    """The same files through provisioning's own writer (client/bundles.py)."""
    from aster_authority.client.bundles import write_bundles

    directory.mkdir()
    body = "x" * 420
    t = time.perf_counter()
    write_bundles([(directory / f"{n}.bundle.json", body) for n in range(count)])
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--db")
    args = ap.parse_args()
    compile_sources()

    from aster_trust.keys import generate_root_key, write_key_pair

    tmp = Path(tempfile.mkdtemp(prefix="bench-devices-"))
    os.environ["ASTER_HOME"] = str(tmp / "home")
    root = generate_root_key()
    write_key_pair(tmp / "root.key", root)
    aster = str(Path(sys.executable).with_name("aster"))
    with authority_server(tmp, root, args.db or str(tmp / "authority.db")) as (_address, env, _admin):
        subprocess.run([aster, "dev", "bench", "create", "--role", "telemetry"], env=env, check=True,
                       capture_output=True, timeout=120)
        command, local, files, one_pass = [], [], [], []
        for n in range(args.rounds):
            out = tmp / f"round{n}"
            t = time.perf_counter()
            done = subprocess.run([aster, "dev", "bench", "provision", "--count", str(args.count), "--out-dir",
                                   str(out), "--root-key", str(tmp / "root.key"), "--json"], env=env,
                                  capture_output=True, text=True, timeout=900)
            command.append(time.perf_counter() - t)
            if done.returncode:
                print(done.stderr, file=sys.stderr)
                return 1
            assert len(json.loads(done.stdout)["devices"]) == args.count
            local.append(sign_in_process(root, args.count))
            files.append(write_one_by_one(tmp / f"files{n}", args.count))
            one_pass.append(write_in_one_pass(tmp / f"pass{n}", args.count))
        c, b = statistics.median(command), statistics.median(local)
        print(f"dev provision --count {args.count}: median {c:.2f} s over {args.rounds} runs "
              f"(runs: {', '.join(f'{x:.2f}' for x in command)}; {args.count / c:.0f} devices/s, one process, "
              f"bundles written 0600 and registered in batches of 500)")
        print(f"signing {args.count} consumer credentials in-process: median {b:.3f} s")
        f, p = statistics.median(files), statistics.median(one_pass)
        print(f"writing {args.count} bundle-sized files durably: {p:.3f} s in one pass (client/bundles.py), "
              f"{f:.2f} s one by one with aster_core.files.atomic_write (file and folder flushed each time)")
        print(f"ratio {c / b:.1f}x the in-process signing (goal <= {GOAL:.0f}x): "
              f"{'met' if c / b <= GOAL else 'NOT MET'}; load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
