#!/usr/bin/env python3
"""The registry server: discover at scale, discover end to end, publish under concurrency.

- ``discover``: N published services (default 100,000) bulk-inserted into a fresh database
  through the store's tables (the FTS triggers / generated column index them as the server's
  own writes would), then the server's own query path (``Directory.discover``, what the handler
  runs) timed per query over a mix of queries (a word in 10,000 or 20,000 services, a rare
  word, an exact name, ``@handle``, an empty query, a miss, two words). Each query is asked
  once first with no match count kept (its first asking counts every match and keeps the count
  when that took long: server/counts.py; printed per query), then ``--rounds`` times more:
  p50 and p99 of those. Goal: p99 <= 20 ms on SQLite, 30 ms on PostgreSQL. The worst case, a
  word found in every service, is timed and printed separately (it is not in the mix).
  ``--keep-sqlite FILE`` seeds SQLite once into FILE and starts every later run from a copy.
- ``end to end``: a real ``aster registry serve`` over that database; fresh CLI processes of
  ``aster discover task --registry ADDR`` and ``aster call ADDR ProfileService.check_availability``
  (a trivial method on the same server) measured interleaved; medians and their ratio.
  Goal: <= 1.2x.
- ``publish``: a real ``aster registry serve`` on loopback, C concurrent clients (default 50),
  each with its own verified handle, each publishing P services; publishes per second.

Both on SQLite and, when the PostgreSQL binaries are installed, on a throwaway PostgreSQL
cluster (tests/support/postgres.py) with PostgreSQL's default ``shared_buffers`` (128MB; the test
sessions' 32MB is smaller than the 100,000-row table, so every count would read it through the OS). Run from the repository root:
``.venv/bin/python benchmarks/bench_registry.py [--services 100000] [--clients 50] [--per-client 10]
[--e2e-rounds 15] [--no-postgres]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

QUERIES = ["task", "billing", "svc042", "Svc77777", "@h00042", "", "zzz-nothing", "queue worker"]
#: a word in every service's description: the worst case, timed apart from the mix
WORST = "service"
WORDS = ["task", "queue", "worker", "billing", "search", "image", "auth", "stream", "ledger", "mail"]


def load(url: str, n: int) -> object:
    from aster_registry.server import tables
    from aster_server import storage

    engine = _engine(url)
    now = int(time.time())
    handles = [{"handle": f"h{i:05d}", "pubkey": secrets.token_hex(32), "email": f"h{i}@example.org",
                "email_hash": tables.email_hash(f"h{i}@example.org"), "status": "verified", "announcements": False,
                "created_at": now, "verification_expires_at": now} for i in range(max(1, n // 100))]
    deleg = json.dumps({"authority": "consumer", "mode": "open", "token_ttl": 300, "rate_limit": None,
                        "roles": ["consumer"]})
    # one INSERT of 2,000 rows at a time: PostgreSQL's triggers of migration r0006 run once per
    # statement and update one row; a statement per row, a million in one transaction, would
    # leave a million versions of that row to walk (the server writes a row or two per transaction)
    with storage.transaction(engine) as conn:
        conn.execute(tables.t_handles.insert(), handles)
        batch = []
        for i in range(n):
            name = f"Svc{i:05d}{WORDS[i % len(WORDS)].capitalize()}"
            batch.append({"handle": handles[i % len(handles)]["handle"], "service_name": name,
                          "name_lower": name.lower(), "version": 1, "contract_id": secrets.token_hex(32),
                          "manifest_json": "{}", "description": f"{WORDS[(i * 7) % len(WORDS)]} service number {i}",
                          "search_text": tables.search_text(name, f"{WORDS[(i * 7) % len(WORDS)]} service number {i}",
                                                          handles[i % len(handles)]["handle"]),
                          "status": "stable", "visibility": "public", "delegation_json": deleg, "method_count": 3,
                          "token_id": secrets.token_hex(8), "published_at": now - i, "updated_at": now})
            if len(batch) == 2000:
                conn.execute(tables.t_services.insert().values(batch))
                batch = []
        if batch:
            conn.execute(tables.t_services.insert().values(batch))
    if engine.dialect.name == "postgresql":  # what autovacuum does soon after a bulk load
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    # SQLite: no ANALYZE (a registry server never runs it; the queries must not need statistics)
    return measured_store(engine)


def measured_store(engine: object) -> object:
    """A store whose discover runs its query every time (no page kept)."""
    from aster_registry.server import store as st
    from aster_server.pagecache import PageCache

    store = st.Store(engine)
    store.directory.pages = PageCache(ttl=0)
    return store


def _engine(url: str, **kw: object) -> object:
    """The registry's database at ``url``, migrated."""
    from aster_registry.server import tables
    from aster_server import storage

    return storage.open_database(url, tables.MIGRATIONS, **kw)


def _timed(store: object, query: str) -> float:
    t0 = time.perf_counter()
    store.directory.discover(query, 20, 0)
    return (time.perf_counter() - t0) * 1000


def seeded_store(url: str, n: int, keep: Path | None) -> tuple[object, float]:
    """A store over ``n`` services; with ``keep`` (SQLite), the seeded file is kept there and
    reused by the next run (seeding a million services takes minutes)."""
    if keep is None:
        t0 = time.perf_counter()
        return load(url, n), time.perf_counter() - t0
    import shutil

    marker = keep.with_name(keep.name + f".{n}.seeded")
    if not marker.exists():
        t0 = time.perf_counter()
        load(f"sqlite:///{keep}", n).engine.dispose()
        marker.write_text(f"{time.perf_counter() - t0:.1f}")
    shutil.copyfile(keep, url.removeprefix("sqlite:///"))  # every run starts from the same seeded file
    return measured_store(_engine(url)), float(marker.read_text())


def _throwaway_database(url: str, name: str) -> str:
    """A fresh database beside ``url``'s (for the parts that publish)."""
    from aster_server import storage

    fresh = f"{name}_{os.getpid()}_{secrets.token_hex(3)}"
    engine = storage.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{fresh}"')
    engine.dispose()
    return url.rsplit("/", 1)[0] + "/" + fresh


def _holds(url: str, n: int) -> bool:
    """Whether the database at ``url`` already holds ``n`` services (seeded by an earlier run)."""
    import sqlalchemy as sa

    from aster_server import storage

    engine = storage.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql("SELECT count(*) FROM registry_services").scalar_one() >= n
    except sa.exc.DBAPIError:
        return False
    finally:
        engine.dispose()


def bench_discover(url: str, n: int, rounds: int, keep: Path | None = None) -> dict:
    """The mix asked once with no count kept (each query's first asking: counted, and kept when
    that took long), then ``rounds`` more times: p50 and p99 of those."""
    if url.startswith("postgresql") and _holds(url, n):  # --postgres-url, seeded by an earlier run
        store, seeded = measured_store(_engine(url)), 0.0
        with store.engine.begin() as conn:  # each run starts with no count kept
            conn.exec_driver_sql("DELETE FROM registry_match_counts")
    else:
        store, seeded = seeded_store(url, n, keep)
    first = {q: round(_timed(store, q), 2) for q in QUERIES}
    times: list[float] = []
    per_query: dict[str, list[float]] = {q: [] for q in QUERIES}
    for _ in range(rounds):
        for q in QUERIES:
            per_query[q].append(_timed(store, q))
            times.append(per_query[q][-1])
    worst_first = _timed(store, WORST)
    worst = [_timed(store, WORST) for _ in range(max(3, rounds // 5))]
    store.engine.dispose()
    times.sort()
    return {"services": n, "seed_s": round(seeded, 1), "search": store.search_backend, "queries": len(times),
            "p50_ms": round(statistics.median(times), 2), "p99_ms": round(times[int(len(times) * 0.99) - 1], 2),
            "max_ms": round(times[-1], 2),
            "median_ms_by_query": {q: round(statistics.median(v), 2) for q, v in per_query.items()},
            "first_asking_ms": first, f"worst_{WORST!r}_first_ms": round(worst_first, 2),
            f"worst_{WORST!r}_median_ms": round(statistics.median(worst), 2)}


def bench_end_to_end(url: str, home: Path, rounds: int) -> dict:
    """Fresh ``aster discover`` and ``aster call`` processes against one server, interleaved."""
    from _timing import BIN, compile_sources, wall
    from tests.support.registry import registry_env, start_registry

    compile_sources()
    with start_registry(url, home=home, dev_mail=True, env={"ASTER_SERVER_LOG_LEVEL": "warning"},
                        max_lifetime=900) as reg:
        env = registry_env(home / "client")
        aster = str(BIN / "aster")
        discover = [aster, "discover", "task", "--registry", reg.address]
        call = [aster, "call", reg.address, "ProfileService.check_availability", '{"handle": "benchy"}']
        for cmd in (discover, call):  # the answer is right, and the caches are warm
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
            if out.returncode != 0:
                raise SystemExit(f"{' '.join(cmd[:3])} failed: {out.stderr.strip()}")
        d: list[float] = []
        c: list[float] = []
        for _ in range(rounds):
            c.append(wall(call, env=env))
            d.append(wall(discover, env=env))
    dm, cm = statistics.median(d), statistics.median(c)
    return {"rounds": rounds, "discover_ms": round(dm * 1000, 1), "call_ms": round(cm * 1000, 1),
            "ratio": round(dm / cm, 3)}


def bench_publish(url: str, clients: int, per_client: int, home: Path) -> dict:
    from aster_registry.server import tables
    from aster_server import storage
    from tests.registry_server.support import Key, RegistryClient, publish_fields
    from tests.support.registry import start_registry

    keys = [Key() for _ in range(clients)]
    engine = storage.open_database(url, tables.MIGRATIONS)
    now = int(time.time())
    with storage.transaction(engine) as conn:
        conn.execute(tables.t_handles.insert(), [
            {"handle": f"pub{i:03d}", "pubkey": k.pub, "email": f"p{i}@example.org",
             "email_hash": tables.email_hash(f"p{i}@example.org"), "status": "verified", "announcements": False,
             "created_at": now, "verification_expires_at": now} for i, k in enumerate(keys)])
    engine.dispose()
    with start_registry(url, home=home, dev_mail=True, env={"ASTER_SERVER_LOG_LEVEL": "warning"}) as reg:
        async def all_clients() -> tuple[int, float]:
            conns = []
            try:
                for _ in keys:  # connect one by one (50 admissions at once overrun the runtime's accept)
                    conns.append(await RegistryClient(reg.address).__aenter__())

                async def publish_all(i: int, c: RegistryClient, key: Key) -> int:
                    for j in range(per_client):
                        await c.signed("PublicationService", "publish", key,
                                       **publish_fields(f"pub{i:03d}", f"Bench{j}"))
                    return per_client

                t0 = time.perf_counter()
                counts = await asyncio.gather(*(publish_all(i, c, k) for i, (c, k) in enumerate(zip(conns, keys))))
                return sum(counts), time.perf_counter() - t0
            finally:
                for c in conns:
                    await c.__aexit__(None, None, None)

        from tests.support.aio import run

        total, seconds = run(all_clients(), timeout=600)
    return {"clients": clients, "publishes": total, "seconds": round(seconds, 2),
            "per_second": round(total / seconds, 1)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--per-client", type=int, default=10)
    parser.add_argument("--e2e-rounds", type=int, default=15)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--keep-sqlite", type=Path, metavar="FILE",
                        help="seed SQLite into FILE once and start each run from a copy of it")
    parser.add_argument("--postgres-url", metavar="URL",
                        help="discover on this PostgreSQL database (seeded once: kept if it holds the services)")
    parser.add_argument("--only-postgres", action="store_true")
    parser.add_argument("--parts", default="discover,e2e,publish",
                        help="which parts to run (publish-loaded: publishing into the loaded database)")
    args = parser.parse_args()
    os.environ["ASTER_RELAY_MODE"] = "disabled"  # loopback only (also for the in-process clients)
    import aster  # noqa: F401  (before any event loop: docs/runtime-notes.md)

    results: dict[str, dict] = {}
    cluster = None
    with tempfile.TemporaryDirectory(prefix="aster-bench-registry-") as tmp:
        targets = [] if args.only_postgres else [("sqlite", lambda name: str(Path(tmp) / f"{name}.db"))]
        if args.postgres_url:
            targets.append(("postgresql", lambda name: args.postgres_url if name == "disc" else
                            _throwaway_database(args.postgres_url, name)))
        elif not args.no_postgres:
            from tests.support.postgres import PostgresUnavailable, start_cluster

            try:
                cluster = start_cluster(shared_buffers="128MB")  # PostgreSQL's default, not the tests' 32MB
                targets.append(("postgresql", lambda name: cluster.create_database(name)))
            except PostgresUnavailable as exc:
                print(f"postgresql skipped: {exc}", file=sys.stderr)
        try:
            for dialect, make in targets:
                url = make("disc")
                parts = set(args.parts.split(","))
                if "discover" in parts:
                    results[f"discover/{dialect}"] = bench_discover(
                        url, args.services, args.rounds, args.keep_sqlite if dialect == "sqlite" else None)
                    print(f"discover over {args.services} services on {dialect}: {results[f'discover/{dialect}']}",
                          flush=True)
                if dialect == "sqlite" and "e2e" in parts:
                    results["end_to_end/sqlite"] = bench_end_to_end(url, Path(tmp) / "home-e2e", args.e2e_rounds)
                    print(f"end to end on {dialect}: {results['end_to_end/sqlite']}", flush=True)
                if "publish" in parts:
                    results[f"publish/{dialect}"] = bench_publish(make("pub"), args.clients, args.per_client,
                                                                  Path(tmp) / f"home-{dialect}")
                    print(f"publish, {args.clients} concurrent clients on {dialect}: {results[f'publish/{dialect}']}",
                          flush=True)
                if "publish-loaded" in parts:  # into the database holding every service discover searched
                    results[f"publish_loaded/{dialect}"] = bench_publish(url, args.clients, args.per_client,
                                                                         Path(tmp) / f"home-loaded-{dialect}")
                    print(f"publish into {args.services} services, {args.clients} concurrent clients on {dialect}: "
                          f"{results[f'publish_loaded/{dialect}']}", flush=True)
        finally:
            if cluster is not None:
                cluster.stop()
    print(f"\nload average {os.getloadavg()[0]:.2f} (2 shared cores)")
    for dialect, goal in (("sqlite", 20), ("postgresql", 30)):
        if f"discover/{dialect}" in results:
            p99 = results[f"discover/{dialect}"]["p99_ms"]
            print(f"discover p99 on {dialect} over {args.services} services: {p99} ms "
                  f"(goal <= {goal} ms: {'met' if p99 <= goal else 'MISSED'})")
    if "end_to_end/sqlite" in results:
        ratio = results["end_to_end/sqlite"]["ratio"]
        print(f"aster discover / aster call, fresh processes: {ratio}x (goal <= 1.2x: {'met' if ratio <= 1.2 else 'MISSED'})")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
