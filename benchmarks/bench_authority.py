"""The deployment authority: `plan list --all` over many plans, accept latency, and reconcile of many
instances against signing the same credentials in-process with aster_trust.

    .venv/bin/python benchmarks/bench_authority.py [--plans 10000] [--instances 1000] [--db postgresql://...]
                                                   [--no-postgres] [--rounds 3]

A real `aster authority serve` on 127.0.0.1, first on SQLite (a temp file), then on
PostgreSQL (--db URL, or a throwaway cluster started with tests/support/postgres.py when
Debian's postgresql is installed). Plans and instances are seeded straight into the
database (seeding is not what is measured). Prints each figure and the reconcile ratio
(goal <= 1.5x): reconcile (desired, sign, upload, server verification) against signing
exactly the same credentials in this process with aster_trust; and the CPU time reconcile
took in the authority process and in this one (on a shared machine the wall-clock ratio
follows the load; the CPU figures say where the time goes); and the floor: reading and
verifying the same credentials in-process, which the authority must do with every upload
(one ed25519 verification costs about three signings), so reconcile cannot beat that ratio.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ASTER_RELAY_MODE", "disabled")

from _timing import authority_server  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--plans", type=int, default=10_000)
    ap.add_argument("--instances", type=int, default=1000)
    ap.add_argument("--accepts", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3, help="reconcile rounds (the median is reported)")
    ap.add_argument("--db", help="a PostgreSQL URL to use; without it a throwaway cluster is started "
                                 "(tests/support/postgres.py) when Debian's postgresql is installed")
    ap.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-authority-"))
    targets = [("SQLite", str(tmp / "authority.db"))]
    cluster = None
    if args.db:
        targets.append(("PostgreSQL", args.db))
    elif not args.no_postgres:
        from tests.support.postgres import PostgresUnavailable, start_cluster

        try:
            cluster = start_cluster()
            targets.append(("PostgreSQL", cluster.create_database("bench")))
        except PostgresUnavailable as exc:
            print(f"PostgreSQL skipped: {exc}")
    try:
        for name, db in targets:
            print(f"== {name}")
            run(args, db, tmp / name.lower())
    finally:
        if cluster is not None:
            cluster.stop()
    return 0


def run(args: argparse.Namespace, db: str, tmp: Path) -> None:
    import sqlalchemy as sa

    from aster_authority.client.connection import Authority
    from aster_authority.client.signing import reconcile
    from aster_authority.domain import plans
    from aster_authority.domain.ids import instance_id_for, new_ulid
    from aster_authority.server import tables as store
    from aster_authority.server.store import Store
    from aster_authority.wire import ADMIN
    from aster_enroll.identity import NodeKey
    from aster_trust import credentials
    from aster_trust.keys import generate_root_key, write_key_pair

    tmp.mkdir(parents=True)
    os.environ["ASTER_HOME"] = str(tmp / "home")
    root = generate_root_key()
    write_key_pair(tmp / "root.key", root)
    st = Store.open(db, root.public_key)
    from aster_contract.manifest import build_manifests

    manifest = build_manifests(["tests.authority.services.tasks_v1:TaskService"]).manifests
    actor = plans.Actor("00" * 32, "bench")
    st.create("service", "bench", roles=["tasks"], actor=actor)
    first = st.apply("service", "bench", manifest, actor=actor)["plan"]["plan_id"]
    st.accept("service", "bench", first, "update", actor=actor)
    now = int(time.time())
    dep = st.show("service", "bench")
    with st.engine.begin() as conn:
        rows = []
        for n in range(args.plans):
            p = plans.Plan(new_ulid(), "bench", "update", "pending", dep["version"], manifest,
                           f"blake3:{n:064x}", [], [], now, now + 86400)
            rows.append(store.plan_values(p))
        conn.execute(sa.insert(store.plan_rows), rows)
        conn.execute(sa.insert(store.instances), [
            dict(instance_id=instance_id_for(k.endpoint_id), deployment_id="bench", kind="service",
                 endpoint_id=k.endpoint_id, state="active", disabled=False, metadata="{}", created_at=now,
                 renewed_at=None) for k in (NodeKey.generate() for _ in range(args.instances))])

    aster = str(Path(sys.executable).with_name("aster"))
    try:
        with authority_server(tmp, root, db) as (address, env, admin):
            t = time.perf_counter()
            out = subprocess.run([aster, "svc", "bench", "authority", "plan", "list", "--all", "--limit", "500",
                                  "--json"], capture_output=True, text=True, env=env, timeout=600)
            listed = time.perf_counter() - t
            count = len(json.loads(out.stdout)["items"])
            print(f"plan list --all: {count} plans in {listed:.2f} s (one process, pages of 500)")

            with Authority.open(address, str(admin)) as auth:
                page = auth.call(ADMIN, "plan_list", {"kind": "service", "deployment_id": "bench",
                                                      "state": "pending", "limit": 500})
                ids = [p["plan_id"] for p in page["items"]]
                times = []
                for _ in range(args.accepts):
                    version = auth.call(ADMIN, "show", {"kind": "service", "deployment_id": "bench"})["version"]
                    changed = [{**manifest[0], "changelog": str(time.time())}]
                    plan = auth.call(ADMIN, "apply", {"kind": "service", "deployment_id": "bench",
                                                      "manifests_json": json.dumps(changed)})
                    t = time.perf_counter()
                    auth.call(ADMIN, "accept", {"kind": "service", "deployment_id": "bench",
                                                "plan_id": plan["plan"]["plan_id"], "classification": "update",
                                                "expected_version": version})
                    times.append(time.perf_counter() - t)
                print(f"accept latency: median {statistics.median(times) * 1000:.1f} ms over {len(times)} "
                      f"({len(ids)} pending plans on the page)")
                rec, local, verify, server_cpu, client_cpu, local_cpu = [], [], [], [], [], []
                server = _server_pid()
                for _ in range(args.rounds):
                    with st.engine.begin() as conn:  # every instance needs its credential again
                        conn.execute(sa.delete(store.credentials))
                    cpu = (_cpu_seconds(server), _own_cpu_seconds())
                    t = time.perf_counter()
                    result = reconcile(auth, "bench", root_key_file=str(tmp / "root.key"))
                    rec.append(time.perf_counter() - t)
                    server_cpu.append(_cpu_seconds(server) - cpu[0])
                    client_cpu.append(_own_cpu_seconds() - cpu[1])
                    # the baseline: sign exactly the credentials reconcile signed (same endpoints,
                    # attributes and expiry), in this process, with aster_trust
                    items = auth.call(ADMIN, "desired", {"kind": "service", "deployment_id": "bench"})["items"]
                    cpu, t = _own_cpu_seconds(), time.perf_counter()
                    signed = [credentials.sign(root, i["type"], expires_at=i["expires_at"],
                                               attributes=i["attributes"], endpoint_id=i["endpoint_id"])
                              for i in items]
                    local.append(time.perf_counter() - t)
                    local_cpu.append(_own_cpu_seconds() - cpu)
                    # the floor: what the authority must do with each upload whatever else it does
                    # (read it, verify its signature under the mesh root), in this process
                    docs = [json.dumps(c.to_dict(), separators=(",", ":")) for c in signed]
                    t = time.perf_counter()
                    for doc in docs:
                        assert credentials.check(credentials.credential_from_dict(json.loads(doc)),
                                                 trusted_root=root.public_key).ok
                    verify.append(time.perf_counter() - t)
            r, b, v = statistics.median(rec), statistics.median(local), statistics.median(verify)
            print(f"reconcile of {args.instances} instances: median {r:.2f} s ({result['counts']}); signing them "
                  f"in-process: {b:.2f} s; ratio {r / b:.2f}x (goal <= 1.5x; {args.rounds} rounds)")
            print(f"the floor: reading and verifying those {len(docs)} credentials in-process takes {v:.2f} s, "
                  f"{v / b:.2f}x signing them (the authority must do this with every upload)")
            print(f"reconcile CPU (median): authority process {statistics.median(server_cpu):.2f} s, this process "
                  f"{statistics.median(client_cpu):.2f} s; signing in-process {statistics.median(local_cpu):.2f} s "
                  f"(2 shared cores, load average {os.getloadavg()[0]:.1f})")
    finally:
        st.close()


def _server_pid() -> int:
    """The `aster authority serve` this process started (a child of its main thread)."""
    children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()
    return next(int(pid) for pid in children
                if b"serve" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"))


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (all its threads) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


if __name__ == "__main__":
    sys.exit(main())
