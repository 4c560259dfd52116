#!/usr/bin/env python3
"""Both servers under many clients, against the runtime's floor, side by side in one run.

Three servers on loopback, each in its own process:

- the registry (``aster registry serve``) over N published services (default 1,000); each
  request is ``PublicationService.discover`` with query ``svc``, limit 20, as ``aster discover``
  sends it (the Fory codec);
- the authority (``aster authority serve``) holding one deployment with P plans (default 100);
  each request is ``AuthorityAdmin.plan_list`` of those plans with an admin credential, as
  ``aster svc ... plan list`` sends it (JSON mode, through ``aster_connect``);
- the floor: a bare ``AsterServer`` of the same runtime (no interceptor of ours, no database)
  whose one method answers a fixed text of the same encoded size and content as each server's
  answer (the registry's entries, the authority's JSON), called the same way as the server it is
  the floor of.

The clients are load generators in processes of their own (``multiprocessing``, spawned, so
none shares a server's interpreter): C concurrent clients (1, 10, 50, 150), each with its own
connection, spread over up to W processes, call in a closed loop for S seconds after a warm-up.
Printed per server and C: requests/s, the server's CPU per request (its /proc CPU time
before/after over the requests answered), p50 and p99 latency, the ratio to the floor's
requests/s, and the server's resident memory before, at the peak and after the load.

One module over 400 lines on purpose: the floor server (``--floor-server``), the load generators
(spawned: each process imports this module again) and the driver are one program.

Goals (issue 24): >= 0.6x the floor's requests/s at 10 and 50 clients; p99 at 50 clients <= 10x
the 1-client p50. The clients call back to back (a closed loop), so 50 of them queue for each
other: the mean latency is 50 / (requests/s) whatever the server does, and the verdict prints that
bound and the floor's own ratio beside ours. The floor misses that p99 goal by itself (40-70x), so
it is also restated against the floor (:func:`tail_against_floor`): our p99 at 50 clients within
1.2x of the floor's p99 at 50 clients divided by our req/s ratio to it. Run from the repository root:
``.venv/bin/python benchmarks/bench_servers.py [--clients 1,10,50,150] [--seconds 5]
[--services 1000] [--plans 100] [--workers 6] [--only registry,authority]``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import multiprocessing as mp
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ["ASTER_RELAY_MODE"] = "disabled"
os.environ.setdefault("ASTER_LOG_LEVEL", "warning")

WORDS = ["task", "queue", "worker", "billing", "search", "image", "auth", "stream", "ledger", "mail"]
#: more connection attempts of a load generator's client when the runtime drops one (the
#: burst losses of docs/runtime-notes.md); they are counted and printed
CONNECT_ATTEMPTS = 8


# ---------------------------------------------------------------------------- the floor server


@functools.lru_cache(maxsize=None)
def floor_types() -> tuple[type, type, type]:
    """The floor's service and its two message types (built on demand: importing this module
    must not import the runtime before the spawned workers set their environment)."""
    from dataclasses import dataclass as dc

    from aster import rpc, service, wire_type

    @wire_type("asterbench/FloorRequest")
    @dc
    class FloorRequest:
        which: int = 0

    @wire_type("asterbench/FloorReply")
    @dc
    class FloorReply:
        text: str = ""

    texts = json.loads(os.environ.get("BENCH_FLOOR_TEXTS", "[]"))

    async def sized(self: Any, req: Any) -> Any:
        return FloorReply(text=texts[req.which])

    # real annotation objects (this module's annotations are strings): the runtime reads them
    sized.__annotations__ = {"req": FloorRequest, "return": FloorReply}
    Floor = service(name="Floor", version=1)(type("Floor", (), {"sized": rpc(sized), "__module__": __name__}))

    return Floor, FloorRequest, FloorReply


async def _serve_floor() -> None:
    import warnings

    from aster import AsterServer, AsterTicket

    floor, _, _ = floor_types()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        server = AsterServer([floor()], allow_all_consumers=True)
        await server.start()
    server.serve()
    info = server.node.node_addr_info()
    ports = sorted({a.rsplit(":", 1)[1] for a in info.direct_addresses or []})
    ticket = AsterTicket(endpoint_id=info.endpoint_id, direct_addrs=[f"127.0.0.1:{p}" for p in ports]).to_string()
    print(json.dumps({"address": ticket}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes stdin
    await server.close()


# ---------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    """What a load generator calls: ``kind`` picks the request (see :func:`_request`)."""

    name: str
    kind: str           # "discover", "discover-uncached", "plan_list", "floor-fory", "floor-json"
    address: str
    service: str
    method: str
    rcan: str | None = None
    which: int = 0      # the floor's text


def _request(target: Target) -> Any:
    if target.kind in ("discover", "discover-uncached"):
        from aster_registry import wire

        return wire.DiscoverRequest(query="svc", limit=20)
    if target.kind == "plan_list":
        return {"kind": "service", "deployment_id": "bench", "limit": 100}
    if target.kind == "floor-fory":
        return floor_types()[1](which=target.which)
    return {"which": target.which}


def _codec(target: Target) -> Any:
    from aster.codec import ForyCodec

    from aster_server.codecs import warm

    if target.kind in ("discover", "discover-uncached"):
        from aster_registry.wire import all_types

        codec = ForyCodec(types=all_types())
    else:
        _, req, reply = floor_types()
        codec = ForyCodec(types=[req, reply])
    warm(codec)  # a client decoding lists pays the serializer rebuild too (aster_server.codecs)
    return codec


class Caller:
    """One client: its own connection, one call at a time."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.conn: Any = None
        self.transport: Any = None
        self.request = _request(target)
        self.retries = 0
        self.metadata = None
        if target.kind == "plan_list":  # the admin's credential shown on each call, as its client does
            try:
                from aster_authority.client.signer import load_signer
            except ImportError:  # an authority that checks the connection's credential only
                pass
            else:
                self.metadata = load_signer(target.rcan).header

    async def connect(self, codec: Any) -> None:
        from aster_connect.client import connect

        for attempt in range(CONNECT_ATTEMPTS):
            try:
                self.conn = await connect(self.target.address, rcan=self.target.rcan, timeout=30, schemas=False)
                break
            except Exception:  # noqa: BLE001 - counted; the last attempt's error is raised
                if attempt == CONNECT_ATTEMPTS - 1:
                    raise
                self.retries += 1
                await asyncio.sleep(0.2 * (attempt + 1))
        if self.target.kind in ("discover", "discover-uncached", "floor-fory"):
            from aster.transport.iroh import IrohTransport

            svc = self.conn.service(self.target.service)
            rpc = await self.conn._client._rpc_conn_for(svc.summary.channels["rpc"])
            self.transport = IrohTransport(rpc, codec=codec)
        else:  # JSON mode, as the authority's client calls: read the method's schema once
            await self.conn.load_schemas([self.target.service], timeout=30)

    async def call(self) -> None:
        t = self.target
        if t.kind == "discover-uncached":  # another page each time: no answer kept serves it
            self.request.offset = random.randrange(980)
        if self.transport is not None:
            await self.transport.unary(t.service, t.method, self.request)
        else:
            await self.conn.call(t.service, t.method, self.request, timeout=30, metadata=self.metadata)

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()


def _load_worker(target: Target, clients: int, warmup: float, seconds: float, ready: Any, go: Any,
                 out: Any) -> None:
    """A load generator process: ``clients`` connections calling in a closed loop."""
    import aster  # noqa: F401  (before the event loop: docs/runtime-notes.md)

    async def main() -> dict[str, Any]:
        codec = _codec(target)
        callers = [Caller(target) for _ in range(clients)]
        for c in callers:  # one by one: a burst of new connections is what the runtime loses
            await c.connect(codec)
        await callers[0].call()  # the answer is right (an error fails the run here)
        ready.put(sum(c.retries for c in callers))
        await asyncio.get_running_loop().run_in_executor(None, go.wait)
        start = time.monotonic() + warmup
        stop = start + seconds
        latencies: list[float] = []
        errors: list[str] = []

        async def loop(c: Caller) -> None:
            while True:
                t0 = time.monotonic()
                if t0 >= stop:
                    return
                try:
                    await c.call()
                except Exception as exc:  # noqa: BLE001 - counted and shown
                    errors.append(f"{type(exc).__name__}: {exc}"[:200])
                    continue
                t1 = time.monotonic()
                if start <= t0 and t1 <= stop:
                    latencies.append(t1 - t0)

        await asyncio.gather(*(loop(c) for c in callers))
        for c in callers:
            await c.close()
        return {"latencies": latencies, "errors": errors}

    try:
        out.put(asyncio.run(main()))
    except BaseException as exc:
        ready.put(f"{type(exc).__name__}: {exc}")  # the parent stops at once instead of waiting
        raise


# ---------------------------------------------------------------------------- measuring


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its threads (/proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int, key: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def drive(target: Target, pid: int, clients: int, args: argparse.Namespace) -> dict[str, Any]:
    """``clients`` concurrent clients against ``target`` (served by process ``pid``)."""
    ctx = mp.get_context("spawn")
    workers = min(clients, args.workers)
    share = [clients // workers + (1 if i < clients % workers else 0) for i in range(workers)]
    ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_load_worker, args=(target, n, args.warmup, args.seconds, ready, go, out))
             for n in share]
    for p in procs:
        p.start()
    try:
        answers = [ready.get(timeout=300) for _ in procs]
        failed = [a for a in answers if isinstance(a, str)]
        if failed:
            raise SystemExit(f"a load generator failed: {failed[0]}")
        retries = sum(answers)
        go.set()
        time.sleep(args.warmup)
        cpu0, t0 = _cpu_seconds(pid), time.monotonic()
        time.sleep(args.seconds)
        cpu1, t1 = _cpu_seconds(pid), time.monotonic()
        results = [out.get(timeout=120) for _ in procs]
    finally:
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.kill()
    latencies = sorted(x for r in results for x in r["latencies"])
    errors = [e for r in results for e in r["errors"]]
    n = len(latencies)
    return {"clients": clients, "requests": n, "rps": n / (t1 - t0), "cpu_ms": (cpu1 - cpu0) * 1000 / max(n, 1),
            "p50_ms": statistics.median(latencies) * 1000 if n else float("nan"),
            "p99_ms": latencies[max(int(n * 0.99) - 1, 0)] * 1000 if n else float("nan"),
            "errors": len(errors), "first_error": errors[0] if errors else "", "connect_retries": retries}


#: how far over the floor's scaled p99 a server's p99 may be (the restated p99 goal)
TAIL_MARGIN = 1.2


def tail_against_floor(ours: dict[str, Any], floor: dict[str, Any]) -> str:
    """The p99 goal restated against the floor. No server here meets the literal goal (p99 at 50
    clients <= 10x the 1-client p50): the floor itself is at 40-70x, most of it 50 closed-loop
    clients queueing for each other. A server answering at ``ratio`` times the floor's rate
    queues 1/ratio as long, so its bound is the floor's p99 at 50 clients / ratio; met within
    :data:`TAIL_MARGIN` of that bound."""
    ratio = ours["rps"] / floor["rps"]
    bound = floor["p99_ms"] / ratio
    met = ours["p99_ms"] <= TAIL_MARGIN * bound
    return (f"p99 at 50 clients {ours['p99_ms']:.1f} ms against the floor's {floor['p99_ms']:.1f} ms / "
            f"{ratio:.2f} (its req/s ratio) = {bound:.1f} ms: {ours['p99_ms'] / bound:.2f}x the bound "
            f"(goal <= {TAIL_MARGIN}x: {'met' if met else 'MISSED'})")


# ---------------------------------------------------------------------------- set-up


def seed_registry(db: str, n: int) -> None:
    """``n`` public services under 10 handles (names ``Svc00042Task``: every one matches ``svc``)."""
    import secrets

    from aster_registry.server import tables
    from aster_server import storage

    engine = storage.open_database(db, tables.MIGRATIONS)
    now = int(time.time())
    handles = [f"h{i:02d}" for i in range(10)]
    deleg = json.dumps({"authority": "consumer", "mode": "open", "token_ttl": 300, "rate_limit": None,
                        "roles": ["consumer"]})
    with storage.transaction(engine) as conn:
        conn.execute(tables.t_handles.insert(), [
            {"handle": h, "pubkey": secrets.token_hex(32), "email": f"{h}@example.org",
             "email_hash": tables.email_hash(f"{h}@example.org"), "status": "verified", "announcements": False,
             "created_at": now, "verification_expires_at": now} for h in handles])
        rows = []
        for i in range(n):
            name = f"Svc{i:05d}{WORDS[i % len(WORDS)].capitalize()}"
            description = f"{WORDS[(i * 7) % len(WORDS)]} service number {i}"
            rows.append({"handle": handles[i % 10], "service_name": name, "name_lower": name.lower(), "version": 1,
                         "contract_id": secrets.token_hex(32), "manifest_json": "{}", "description": description,
                         "search_text": tables.search_text(name, description, handles[i % 10]),
                         "status": "stable", "visibility": "public", "delegation_json": deleg, "method_count": 3,
                         "token_id": secrets.token_hex(8), "published_at": now - i, "updated_at": now})
        conn.execute(tables.t_services.insert(), rows)
    engine.dispose()


def seed_authority(db: str, tmp: Path, plans_count: int) -> Any:
    """A deployment ``bench`` with ``plans_count`` pending plans; returns the root key."""
    import sqlalchemy as sa

    from aster_authority.domain import plans
    from aster_authority.domain.ids import new_ulid
    from aster_authority.server import tables as store
    from aster_authority.server.store import Store
    from aster_contract.manifest import build_manifests
    from aster_trust.keys import generate_root_key

    root = generate_root_key()
    st = Store.open(db, root.public_key)
    manifest = build_manifests(["tests.authority.services.tasks_v1:TaskService"]).manifests
    from tests.support.authority import Signed, make_admin

    Signed(st, make_admin(root)).create("service", "bench", roles=["tasks"])  # a signed decision, as the CLI sends
    dep = st.show("service", "bench")
    now = int(time.time())
    with st.engine.begin() as conn:
        conn.execute(sa.insert(store.plan_rows), [store.plan_values(plans.Plan(
            new_ulid(), "bench", "update", "pending", dep["version"], manifest, f"blake3:{k:064x}", [], [], now,
            now + 86400)) for k in range(plans_count)])
        if hasattr(store, "contracts"):  # plans' manifests in the contract store
            conn.execute(sa.insert(store.contracts), [{"digest": f"blake3:{k:064x}", "manifests": json.dumps(manifest),
                                                       "stored_at": now} for k in range(plans_count)])
    st.close()
    return root


def start(cmd: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=env, cwd=ROOT)
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"{' '.join(cmd[:3])} did not start")
    return proc, json.loads(line)["address"]


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def sample_texts(registry: str | None, authority: tuple[str, str] | None) -> list[str]:
    """The floor's answers: one answer of each server, as text of the same encoded size."""
    from tests.support.aio import run

    texts = ["", ""]

    async def go() -> None:
        if registry:
            target = Target("registry", "discover", registry, "PublicationService", "discover")
            c = Caller(target)
            codec = _codec(target)
            await c.connect(codec)
            reply = await c.transport.unary("PublicationService", "discover", c.request)
            size = len(codec.encode(reply))
            text = json.dumps([vars(e) for e in reply.services])
            texts[0] = (text * (size // len(text) + 1))[:size]
            await c.close()
        if authority:
            c = Caller(Target("authority", "plan_list", authority[0], "AuthorityAdmin", "plan_list", authority[1]))
            await c.connect(None)
            reply = await c.conn.call("AuthorityAdmin", "plan_list", c.request, timeout=30, metadata=c.metadata)
            texts[1] = reply["json"]
            await c.close()

    run(go(), timeout=120)
    return texts


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", default="1,10,50,150")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--plans", type=int, default=100)
    ap.add_argument("--workers", type=int, default=6, help="load generator processes at most")
    ap.add_argument("--only", default="registry,authority")
    ap.add_argument("--uncached", action="store_true",
                    help="also discover a random page each time: the query's own cost, no answer kept")
    ap.add_argument("--floor-server", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.floor_server:
        import aster  # noqa: F401

        asyncio.run(_serve_floor())
        return 0
    import aster  # noqa: F401  (before any event loop)

    from _timing import BIN, compile_sources

    compile_sources()
    only = set(args.only.split(","))
    counts = [int(c) for c in args.clients.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="bench-servers-"))
    env = dict(os.environ, ASTER_SERVER_LOG_LEVEL="warning", ASTER_LOG_LEVEL="warning", ASTER_HOME=str(tmp / "home"))
    servers: dict[str, tuple[subprocess.Popen, str]] = {}
    admin = None
    try:
        if "registry" in only:
            seed_registry(str(tmp / "registry.db"), args.services)
            servers["registry"] = start([str(BIN / "aster"), "registry", "serve", "--db", str(tmp / "registry.db"),
                                         "--dev-mail", "--bind", "127.0.0.1", "--identity", str(tmp / "reg.key"),
                                         "--read-limit", "1000000", "--max-lifetime", "3600"], env)
        if "authority" in only:
            from types import SimpleNamespace

            from tests.support.credentials import write_consumer_identity

            root = seed_authority(str(tmp / "authority.db"), tmp, args.plans)
            # an admin identity whose credential is bound to its node key, as the authority requires
            admin, _ = write_consumer_identity(
                SimpleNamespace(private_key=root.seed, public_key=root.public_key, public_hex=root.public_hex),
                tmp / "admin.identity", name="ops", attributes={"aster.role": "authority.admin", "aster.name": "ops"},
                expires_at=int(time.time()) + 7200)
            servers["authority"] = start([str(BIN / "aster"), "authority", "serve", "--db", str(tmp / "authority.db"),
                                          "--root-pubkey", root.public_hex, "--identity", str(tmp / "auth.key"),
                                          "--bind", "127.0.0.1", "--max-lifetime", "3600"], env)
        texts = sample_texts(servers["registry"][1] if "registry" in servers else None,
                             (servers["authority"][1], str(admin)) if "authority" in servers else None)
        servers["floor"] = start([sys.executable, __file__, "--floor-server"], dict(env, BENCH_FLOOR_TEXTS=json.dumps(texts)))
        plan: list[tuple[str, Target, Target]] = []
        if "registry" in servers:
            plan.append(("registry discover", Target("registry", "discover", servers["registry"][1],
                                                     "PublicationService", "discover"),
                         Target("floor", "floor-fory", servers["floor"][1], "Floor", "sized", which=0)))
            if args.uncached:
                plan.append(("registry discover, a random page of the 1,000 each time (nothing kept serves it)",
                             Target("registry", "discover-uncached", servers["registry"][1], "PublicationService",
                                    "discover"),
                             Target("floor", "floor-fory", servers["floor"][1], "Floor", "sized", which=0)))
        if "authority" in servers:
            plan.append(("authority plan list", Target("authority", "plan_list", servers["authority"][1],
                                                       "AuthorityAdmin", "plan_list", str(admin)),
                         Target("floor", "floor-json", servers["floor"][1], "Floor", "sized", which=1)))
        print(f"answer sizes: discover {len(texts[0])} B, plan list {len(texts[1])} B; "
              f"{args.seconds:g} s per point after {args.warmup:g} s warm-up; load average {os.getloadavg()[0]:.2f}",
              flush=True)
        verdicts: list[str] = []
        for title, target, floor in plan:
            pid = servers[target.name][0].pid
            rss0 = _rss_mib(pid)
            rows: dict[int, tuple[dict, dict]] = {}
            print(f"\n== {title} ({'Fory' if target.kind.startswith('discover') else 'JSON mode'}) vs the floor")
            print(f"{'clients':>7} {'req/s':>8} {'floor':>8} {'ratio':>6} {'cpu ms':>7} {'floor':>6} "
                  f"{'p50 ms':>7} {'p99 ms':>8} {'floor p99':>9} {'errors':>6} {'retries':>7}")
            for c in counts:
                f = drive(floor, servers["floor"][0].pid, c, args)
                s = drive(target, pid, c, args)
                rows[c] = (s, f)
                print(f"{c:>7} {s['rps']:8.1f} {f['rps']:8.1f} {s['rps'] / f['rps']:6.2f} {s['cpu_ms']:7.2f} "
                      f"{f['cpu_ms']:6.2f} {s['p50_ms']:7.1f} {s['p99_ms']:8.1f} {f['p99_ms']:9.1f} "
                      f"{s['errors'] + f['errors']:>6} {s['connect_retries'] + f['connect_retries']:>7}", flush=True)
                for r in (s, f):
                    if r["first_error"]:
                        print(f"        first error: {r['first_error']}")
            peak = _rss_mib(pid, "VmHWM")
            time.sleep(2)
            soon = _rss_mib(pid)
            time.sleep(8)  # the server gives memory back 5 s after its last call (aster_server.memory)
            print(f"server memory: {rss0:.0f} MiB before, {peak:.0f} MiB peak, {soon:.0f} MiB 2 s and "
                  f"{_rss_mib(pid):.0f} MiB 10 s after the load")
            for c in (10, 50):
                if c in rows:
                    ratio = rows[c][0]["rps"] / rows[c][1]["rps"]
                    verdicts.append(f"{title}, {c} clients: {ratio:.2f}x the floor's req/s "
                                    f"(goal >= 0.6x: {'met' if ratio >= 0.6 else 'MISSED'})")
            if 1 in rows and 50 in rows:
                tail = rows[50][0]["p99_ms"] / rows[1][0]["p50_ms"]
                floor_tail = rows[50][1]["p99_ms"] / rows[1][1]["p50_ms"]
                # 50 clients calling back to back wait for each other: p99 >= 50 / (req/s), whatever the server
                verdicts.append(f"{title}: p99 at 50 clients {tail:.1f}x the 1-client p50 "
                                f"(literal goal <= 10x: {'met' if tail <= 10 else 'MISSED'}; the floor's own: "
                                f"{floor_tail:.1f}x; queueing alone: "
                                f"{50 / rows[50][0]['rps'] * 1000 / rows[1][0]['p50_ms']:.1f}x)")
            if 50 in rows:
                verdicts.append(f"{title}: {tail_against_floor(rows[50][0], rows[50][1])}")
        print(f"\nload average {os.getloadavg()[0]:.2f} (2 shared cores)")
        for v in verdicts:
            print(v)
    finally:
        for proc, _ in servers.values():
            if proc.stdin:
                proc.stdin.close()
            stop(proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
