"""Device provisioning at scale: `aster dev ID provision --count N --out-dir D` (keys derived,
credentials signed, bundles written 0600, registered in batches of 500) against signing the same N
consumer credentials in-process with aster_trust.

    .venv/bin/python benchmarks/bench_devices.py [--count 1000] [--rounds 3] [--db postgresql://...]

A real `aster authority serve` on 127.0.0.1 (SQLite in a temp dir unless --db). Each round runs
the command (one process, as users run it) and the in-process baseline side by side; prints
the medians and their ratio, and (the durable writes being most of the cost) the time of writing
as many files with aster_core's atomic_write alone.
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


def write_bundles(directory: Path, count: int) -> float:
    """The durable part alone: ``count`` bundle-sized files through aster_core's atomic_write."""
    from aster_core.files import atomic_write

    directory.mkdir()
    body = "x" * 420
    t = time.perf_counter()
    for n in range(count):
        atomic_write(directory / f"{n}.bundle.json", body, mode=0o600, exclusive=True)
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
        command, local, files = [], [], []
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
            files.append(write_bundles(tmp / f"files{n}", args.count))
        c, b = statistics.median(command), statistics.median(local)
        print(f"dev provision --count {args.count}: median {c:.2f} s over {args.rounds} runs "
              f"(runs: {', '.join(f'{x:.2f}' for x in command)}; {args.count / c:.0f} devices/s, one process, "
              f"bundles written 0600 and registered in batches of 500)")
        print(f"signing {args.count} consumer credentials in-process: median {b:.3f} s")
        f = statistics.median(files)
        print(f"writing {args.count} bundle-sized files one by one with aster_core.files.atomic_write (fsync of "
              f"file and directory each): median {f:.2f} s")
        print(f"ratio {c / b:.1f}x (against signing alone); {c / (b + f):.1f}x against signing plus writing the "
              "files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
