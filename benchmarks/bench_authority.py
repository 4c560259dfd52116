"""The deployment authority: reconcile of many instances (decision chain included) against the
in-process floor, and `plan list --all` over many plans and accept latency against the base
checkout's.

    .venv/bin/python benchmarks/bench_authority.py [--plans 10000] [--instances 1000] [--db postgresql://...]
                                                   [--no-postgres] [--rounds 3] [--base DIR]

A real `aster authority serve` on 127.0.0.1, first on SQLite (a temp file), then on
PostgreSQL (--db URL, or a throwaway cluster started with tests/support/postgres.py when
Debian's postgresql is installed). The deployment is made through signed decisions (create,
apply, accept); plans and instances are seeded straight into the database, each instance
with its signed registration record (seeding is not what is measured).

- reconcile (desired, both chains fetched, every record verified and replayed, signing,
  upload, the authority's verification and storage) against the **floor**: signing exactly
  the same credentials in this process, verifying them (what the authority must do with each
  upload) and verifying the chain's records (what reconcile must do): goal <= 1.5x on SQLite,
  <= 2x on PostgreSQL; with the CPU time each process used.
- `plan list --all` and accept latency (the whole accept an operator runs on a plan applied from
  this machine: its record signed from what the apply kept, one call; a plan shown first:
  plan_show, then the call; and the call alone; beside the inherent cost: signing a record and
  verifying it): with ``--base DIR`` (a
  checkout of the code before decision records, e.g. ``git worktree add /tmp/base21 fe496be``)
  that checkout runs its own authority on its own database, seeded alike, and its timings
  alternate with ours (a round of each in turn), so the load moves both; ratios against the
  goal <= 1.2x.
"""

from __future__ import annotations

import argparse
import contextlib
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

GOALS = {"SQLite": 1.5, "PostgreSQL": 2.0}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--plans", type=int, default=10_000)
    ap.add_argument("--instances", type=int, default=1000)
    ap.add_argument("--accepts", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3, help="reconcile rounds (the median is reported)")
    ap.add_argument("--db", help="a PostgreSQL URL to use; without it a throwaway cluster is started "
                                 "(tests/support/postgres.py) when Debian's postgresql is installed")
    ap.add_argument("--no-postgres", action="store_true", help="SQLite only")
    ap.add_argument("--base", type=Path, help="a checkout of the base to measure plan list and accept against")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-authority-"))
    targets = [("SQLite", str(tmp / "authority.db"))]
    cluster = base_pg = None
    if args.db:
        targets.append(("PostgreSQL", args.db))
    elif not args.no_postgres:
        from tests.support.postgres import PostgresUnavailable, start_cluster

        try:
            cluster = start_cluster()
            targets.append(("PostgreSQL", cluster.create_database("bench")))
            base_pg = cluster.create_database("bench_base") if args.base else None
        except PostgresUnavailable as exc:
            print(f"PostgreSQL skipped: {exc}")
    try:
        for name, db in targets:
            print(f"== {name}")
            args.goal = GOALS[name]
            base_db = str(tmp / "base.db") if name == "SQLite" else base_pg
            with BaseCheckout.start(args.base, args.plans, base_db) if args.base and base_db else \
                    contextlib.nullcontext() as base:
                run(args, db, tmp / name.lower(), base)
    finally:
        if cluster is not None:
            cluster.stop()
    return 0


def run(args: argparse.Namespace, db: str, tmp: Path, base: "BaseCheckout | None" = None) -> None:
    import sqlalchemy as sa

    from aster_authority.client import deployments
    from aster_authority.client.connection import Authority
    from aster_authority.client.pins import record_own
    from aster_authority.client.signer import chain_head, load_signer, sign
    from aster_authority.domain.bodies import accept_body
    from aster_authority.domain.credentials import canonical_json
    from aster_authority.client.signing import reconcile
    from aster_authority.domain import decisions
    from aster_authority.server import tables as store
    from aster_authority.server.store import Store
    from aster_authority.wire import ADMIN
    from aster_contract.manifest import build_manifests
    from aster_trust import credentials
    from aster_trust.keys import generate_root_key, write_key_pair

    tmp.mkdir(parents=True)
    os.environ["ASTER_HOME"] = str(tmp / "home")
    root = generate_root_key()
    write_key_pair(tmp / "root.key", root)
    st = Store.open(db, root.public_key)  # migrated before the server starts
    manifest = build_manifests(["tests.authority.services.tasks_v1:TaskService"]).manifests
    aster = str(Path(sys.executable).with_name("aster"))
    try:
        with authority_server(tmp, root, db) as (address, env, admin), Authority.open(address, str(admin)) as auth:
            # the deployment through signed decisions, as an operator makes it
            deployments.create(auth, "bench", roles=["tasks"])
            first = deployments.apply(auth, "bench", manifest)["plan"]["plan_id"]
            deployments.accept(auth, "bench", first, "update")
            _seed(st, args, manifest, load_signer(str(admin)))

            listed, base_listed, full, call, base_accept = [], [], [], [], []
            for _ in range(LIST_ROUNDS):  # alternately with the base checkout, so the load moves both alike
                if base is not None:
                    base_listed.append(base.ask("list")["seconds"])
                t = time.perf_counter()
                out = subprocess.run([aster, "svc", "bench", "authority", "plan", "list", "--all", "--limit", "500",
                                      "--json"], capture_output=True, text=True, env=env, timeout=600)
                listed.append(time.perf_counter() - t)
            count = len(json.loads(out.stdout)["items"])
            print(f"plan list --all: {count} plans, median {statistics.median(listed):.2f} s over {len(listed)} "
                  f"(one process, pages of 500)" + _against(base_listed, "s", listed))

            shown_first, inherent, pinning, checked = [], [], [], {}
            for n in range(args.accepts):
                if base is not None and n % ACCEPT_STRIDE == 0:
                    base_accept += base.ask(f"accept {ACCEPT_STRIDE}")["times"]
                changed = [{**manifest[0], "changelog": str(time.time())}]
                plan = deployments.apply(auth, "bench", changed)["plan"]["plan_id"]
                t = time.perf_counter()
                deployments.accept(auth, "bench", plan, "update")  # what `accept-update --yes` does (applied here)
                full.append(time.perf_counter() - t)
                # a plan shown first (another admin applied it, or the operator confirms it): two calls
                changed = [{**manifest[0], "changelog": str(time.time())}]
                plan = deployments.apply(auth, "bench", changed)["plan"]["plan_id"]
                t = time.perf_counter()
                deployments.accept(auth, "bench", plan, "update", plan=deployments.plan_show(auth, "bench", plan))
                shown_first.append(time.perf_counter() - t)
                # the accept call alone, its record signed beforehand
                changed = [{**manifest[0], "changelog": str(time.time())}]
                plan = deployments.apply(auth, "bench", changed)["plan"]
                record = canonical_json(sign(auth.signer, "bench", chain_head(auth, "bench", kind="service"),
                                             "accept", accept_body(plan["plan_id"], "update", plan["digest"],
                                                                   changed, None)))
                t = time.perf_counter()
                auth.call(ADMIN, "accept", {"kind": "service", "deployment_id": "bench", "plan_id": plan["plan_id"],
                                            "classification": "update", "record_json": record})
                call.append(time.perf_counter() - t)
                # what no accept can skip now, in-process: signing its record and verifying its signature
                # (the signer's credential is checked once, as the authority keeps it)
                head = chain_head(auth, "bench", kind="service")
                body = accept_body(plan["plan_id"], "update", plan["digest"], changed, None)
                t = time.perf_counter()
                signed = sign(auth.signer, "bench", head, "accept", body)
                decisions.verify_record(json.loads(canonical_json(signed)), root_pubkey=root.public_key,
                                        expected_prev=head.hash, expected_seq=head.seq + 1, credentials=checked)
                inherent.append(time.perf_counter() - t)
                # and pinning it on this machine (a durable write of the pin file), under a root of its own
                t = time.perf_counter()
                record_own("00" * 32, "floor", decisions.Head(n + 1, decisions.record_hash(signed)))
                pinning.append(time.perf_counter() - t)
            a, c, s = statistics.median(full), statistics.median(call), statistics.median(shown_first)
            i, p = statistics.median(inherent), statistics.median(pinning)
            print(f"accept latency: median {a * 1000:.1f} ms over {len(full)} (a plan applied here: its record "
                  f"signed from what the apply kept, one call){_against(base_accept, 'ms', full)}; the accept call "
                  f"alone {c * 1000:.1f} ms{_against(base_accept, 'ms', call)}; a plan shown first (plan_show, then "
                  f"accept) {s * 1000:.1f} ms{_against(base_accept, 'ms', shown_first)}")
            if base_accept:
                b = statistics.median(base_accept)
                print(f"accept's inherent cost, in-process: signing its record and verifying it {i * 1000:.2f} ms, "
                      f"pinning the decision on this machine {p * 1000:.2f} ms; the base plus both "
                      f"{(b + i + p) * 1000:.1f} ms: a plan applied here {a / (b + i + p):.2f}x that floor, the call "
                      f"alone {c / (b + i):.2f}x the base plus signing and verifying (load average "
                      f"{os.getloadavg()[0]:.1f})")

            rec, floor, sign_only, server_cpu, client_cpu = [], [], [], [], []
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
                # the floor, in this process: sign exactly the credentials reconcile signed, verify
                # them (as the authority must), and verify the chain's records (as reconcile must)
                items = auth.call(ADMIN, "desired", {"kind": "service", "deployment_id": "bench"})["items"]
                records = auth.pages(ADMIN, "chain", {"kind": "service", "deployment_id": "bench"}, limit=500,
                                     all_pages=True)["items"]
                t = time.perf_counter()
                signed = [credentials.sign(root, i["type"], expires_at=i["expires_at"], attributes=i["attributes"],
                                           endpoint_id=i["endpoint_id"]) for i in items]
                signing = time.perf_counter() - t
                docs = [json.dumps(c.to_dict(), separators=(",", ":")) for c in signed]
                for doc in docs:
                    assert credentials.check(credentials.credential_from_dict(json.loads(doc)),
                                             trusted_root=root.public_key).ok
                decisions.verify_chain(records, root_pubkey=root.public_key)
                floor.append(time.perf_counter() - t)
                sign_only.append(signing)
            r, f = statistics.median(rec), statistics.median(floor)
            assert result["counts"]["current"] == args.instances and not result["counts"]["refused"], result["counts"]
            print(f"reconcile of {args.instances} instances ({len(records)} decision records): median {r:.2f} s "
                  f"({result['counts']}); the floor in-process (signing them {statistics.median(sign_only):.2f} s, "
                  f"verifying them and the chain): {f:.2f} s; ratio {r / f:.2f}x (goal <= {args.goal:g}x; "
                  f"{args.rounds} rounds)")
            print(f"reconcile CPU (median): authority process {statistics.median(server_cpu):.2f} s, this process "
                  f"{statistics.median(client_cpu):.2f} s (2 shared cores, load average {os.getloadavg()[0]:.1f})")
    finally:
        st.close()


def _seed(st, args: argparse.Namespace, manifest: list, signer) -> None:
    """Plans and instances straight into the database (seeding is not what is measured): the
    instances each with its signed registration record, as `svc provision` would leave them."""
    import sqlalchemy as sa

    from aster_authority.domain import decisions, plans
    from aster_authority.domain.credentials import canonical_json
    from aster_authority.domain.ids import instance_id_for, new_ulid
    from aster_authority.server import tables as store
    from aster_enroll.identity import NodeKey

    now = int(time.time())
    with st.engine.begin() as conn:
        dep = conn.execute(sa.select(store.deployments.c.version).where(
            store.deployments.c.deployment_id == "bench")).first()
        conn.execute(sa.insert(store.plan_rows), [store.plan_values(plans.Plan(
            new_ulid(), "bench", "update", "pending", dep.version, manifest, f"blake3:{n:064x}", [], [], now,
            now + 86400)) for n in range(args.plans)])
        if hasattr(store, "contracts"):  # plans' manifests in the contract store (a --base checkout: in the row)
            conn.execute(sa.insert(store.contracts), [{"digest": f"blake3:{n:064x}", "manifests": json.dumps(manifest),
                                                       "stored_at": now} for n in range(args.plans)])
        last = conn.execute(sa.select(store.records.c.seq, store.records.c.hash, store.records.c.decided_at).where(
            store.records.c.deployment_id == "bench").order_by(store.records.c.seq.desc()).limit(1)).first()
        seq, prev, at = last.seq, last.hash, max(last.decided_at, now)
        nodes = [NodeKey.generate() for _ in range(args.instances)]
        rows = []
        for node in nodes:
            seq += 1
            record = decisions.sign_record(decisions.make_record(
                "bench", seq, prev, "instance_register", {"endpoint_id": node.endpoint_id}, at,
                signer.endpoint_id, signer.credential), signer.seed)
            prev = decisions.record_hash(record)
            rows.append(dict(deployment_id="bench", seq=seq, hash=prev, action="instance_register",
                             signer=signer.endpoint_id, decided_at=at, stored_at=now, record=canonical_json(record)))
        conn.execute(sa.insert(store.records), rows)
        conn.execute(sa.insert(store.instances), [
            dict(instance_id=instance_id_for(n.endpoint_id), deployment_id="bench", kind="service",
                 endpoint_id=n.endpoint_id, state="active", disabled=False, metadata="{}", created_at=now,
                 renewed_at=None) for n in nodes])


def _against(base: list[float], unit: str, ours: list[float]) -> str:
    """`` (the base checkout: X; ratio Nx, goal <= 1.2x)`` when the base was measured beside."""
    if not base:
        return ""
    b, o, scale = statistics.median(base), statistics.median(ours), 1000 if unit == "ms" else 1
    return f" (the base checkout, measured alternately: {b * scale:.{1 if unit == 'ms' else 2}f} {unit}; ratio " \
           f"{o / b:.2f}x, goal <= 1.2x)"


LIST_ROUNDS = 3
ACCEPT_STRIDE = 5

#: runs in a checkout of the code before decision records (its packages first on the path): its
#: own authority on its own database, seeded as that code's bench did, answering "list" (one
#: `plan list --all`, timed) and "accept N" (N accepts, each timed) on stdin, one JSON line each
_BASE_DRIVER = r"""
import json, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path
base, plans_count, db = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
sys.path[:0] = [str(base / "benchmarks"), str(base)]
os.environ.setdefault("ASTER_RELAY_MODE", "disabled")
from _timing import authority_server
import sqlalchemy as sa
from aster_authority.client.connection import Authority
from aster_authority.domain import plans
from aster_authority.domain.ids import new_ulid
from aster_authority.server import tables as store
from aster_authority.server.store import Store
from aster_authority.wire import ADMIN
from aster_contract.manifest import build_manifests
from aster_trust.keys import generate_root_key
tmp = Path(tempfile.mkdtemp(prefix="bench-base-"))
os.environ["ASTER_HOME"] = str(tmp / "home")
root = generate_root_key()
st = Store.open(db, root.public_key)
manifest = build_manifests(["tests.authority.services.tasks_v1:TaskService"]).manifests
actor = plans.Actor("00" * 32, "bench")
st.create("service", "bench", roles=["tasks"], actor=actor)
st.accept("service", "bench", st.apply("service", "bench", manifest, actor=actor)["plan"]["plan_id"], "update",
          actor=actor)
now, version = int(time.time()), st.show("service", "bench")["version"]
with st.engine.begin() as conn:
    conn.execute(sa.insert(store.plan_rows), [store.plan_values(plans.Plan(
        new_ulid(), "bench", "update", "pending", version, manifest, f"blake3:{n:064x}", [], [], now, now + 86400))
        for n in range(plans_count)])
aster = str(Path(sys.executable).with_name("aster"))
with authority_server(tmp, root, db) as (address, env, admin), Authority.open(address, str(admin)) as auth:
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        words = line.split()
        if words[0] == "list":
            t = time.perf_counter()
            subprocess.run([aster, "svc", "bench", "authority", "plan", "list", "--all", "--limit", "500", "--json"],
                           capture_output=True, text=True, env=env, timeout=600, check=True)
            print(json.dumps({"seconds": time.perf_counter() - t}), flush=True)
        elif words[0] == "accept":
            times = []
            for _ in range(int(words[1])):
                changed = [{**manifest[0], "changelog": str(time.time())}]
                plan = auth.call(ADMIN, "apply", {"kind": "service", "deployment_id": "bench",
                                                  "manifests_json": json.dumps(changed)})["plan"]["plan_id"]
                t = time.perf_counter()
                auth.call(ADMIN, "accept", {"kind": "service", "deployment_id": "bench", "plan_id": plan,
                                            "classification": "update"})
                times.append(time.perf_counter() - t)
            print(json.dumps({"times": times}), flush=True)
st.close()
"""


class BaseCheckout:
    """The base checkout's authority, driven from here so its measurements alternate with ours."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc

    @classmethod
    @contextlib.contextmanager
    def start(cls, checkout: Path, plans_count: int, db: str):
        paths = [checkout, checkout / "core", checkout / "lib" / "server", *sorted((checkout / "plugins").iterdir())]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(p) for p in paths))
        env.pop("ASTER_HOME", None)
        proc = subprocess.Popen([sys.executable, "-c", _BASE_DRIVER, str(checkout), str(plans_count), db],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=checkout)
        try:
            ready = json.loads(proc.stdout.readline() or "{}")
            if not ready.get("ready"):
                raise RuntimeError(f"the base checkout's authority did not start (exit {proc.poll()})")
            yield cls(proc)
        finally:
            proc.stdin.close()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()

    def ask(self, command: str) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the base checkout's authority stopped")
        return json.loads(line)


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
