#!/usr/bin/env python3
"""The registry server: discover at scale, and publish throughput under concurrency.

- ``discover``: N published services (default 100,000) loaded straight into a fresh database,
  then the server's own query path (``Store.discover``, what the handler runs) timed per query
  over a mix of queries (a word in many names, a rare word, an exact name, ``@handle``, an
  empty query, a miss); p50 and p99. Goal: p99 <= 20 ms on SQLite.
- ``publish``: a real ``aster registry serve`` on loopback, C concurrent clients (default 50),
  each with its own verified handle, each publishing P services; publishes per second.

Both on SQLite and, when the PostgreSQL binaries are installed, on a throwaway PostgreSQL
cluster (tests/support/postgres.py). Run from the repository root:
``.venv/bin/python benchmarks/bench_registry.py [--services 100000] [--clients 50] [--per-client 4]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUERIES = ["task", "billing", "svc042", "Svc77777", "@h00042", "", "zzz-nothing", "queue worker"]
WORDS = ["task", "queue", "worker", "billing", "search", "image", "auth", "stream", "ledger", "mail"]


def load(url: str, n: int) -> object:
    import sqlalchemy as sa

    from aster_registry.server import store as st
    from aster_server import storage

    engine = storage.open_database(url, st.MIGRATIONS)
    now = int(time.time())
    handles = [{"handle": f"h{i:05d}", "pubkey": secrets.token_hex(32), "email": f"h{i}@example.org",
                "email_hash": st.email_hash(f"h{i}@example.org"), "status": "verified", "announcements": False,
                "created_at": now, "verification_expires_at": now, "version": 1} for i in range(max(1, n // 100))]
    deleg = json.dumps({"authority": "consumer", "mode": "open", "token_ttl": 300, "rate_limit": None,
                        "roles": ["consumer"]})
    with storage.transaction(engine) as conn:
        conn.execute(st.t_handles.insert(), handles)
        batch = []
        for i in range(n):
            name = f"Svc{i:05d}{WORDS[i % len(WORDS)].capitalize()}"
            batch.append({"handle": handles[i % len(handles)]["handle"], "service_name": name,
                          "name_lower": name.lower(), "version": 1, "contract_id": secrets.token_hex(32),
                          "manifest_json": "{}", "description": f"{WORDS[(i * 7) % len(WORDS)]} service number {i}",
                          "search_text": st._search_text(name, f"{WORDS[(i * 7) % len(WORDS)]} service number {i}",
                                                         handles[i % len(handles)]["handle"]),
                          "status": "stable", "visibility": "public", "delegation_json": deleg, "method_count": 3,
                          "token_id": secrets.token_hex(8), "published_at": now - i, "updated_at": now})
            if len(batch) == 5000:
                conn.execute(st.t_services.insert(), batch)
                batch = []
        if batch:
            conn.execute(st.t_services.insert(), batch)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    else:
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    return st.Store(engine)


def bench_discover(url: str, n: int, rounds: int) -> dict:
    store = load(url, n)
    times: list[float] = []
    for _ in range(rounds):
        for q in QUERIES:
            t0 = time.perf_counter()
            store.discover(q, 20, 0)
            times.append((time.perf_counter() - t0) * 1000)
    store.engine.dispose()
    times.sort()
    return {"queries": len(times), "p50_ms": round(statistics.median(times), 2),
            "p99_ms": round(times[int(len(times) * 0.99) - 1], 2), "max_ms": round(times[-1], 2)}


def bench_publish(url: str, clients: int, per_client: int, home: Path) -> dict:
    import sqlalchemy as sa

    from aster_registry.server import store as st
    from aster_server import storage
    from tests.registry_server.support import Key, RegistryClient, publish_fields, start_registry

    keys = [Key() for _ in range(clients)]
    engine = storage.open_database(url, st.MIGRATIONS)
    now = int(time.time())
    with storage.transaction(engine) as conn:
        conn.execute(st.t_handles.insert(), [
            {"handle": f"pub{i:03d}", "pubkey": k.pub, "email": f"p{i}@example.org",
             "email_hash": st.email_hash(f"p{i}@example.org"), "status": "verified", "announcements": False,
             "created_at": now, "verification_expires_at": now, "version": 1} for i, k in enumerate(keys)])
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
    parser.add_argument("--per-client", type=int, default=4)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    import aster  # noqa: F401  (before any event loop: docs/runtime-notes.md)

    results: dict[str, dict] = {}
    cluster = None
    with tempfile.TemporaryDirectory(prefix="aster-bench-registry-") as tmp:
        targets = [("sqlite", lambda name: str(Path(tmp) / f"{name}.db"))]
        if not args.no_postgres:
            from tests.support.postgres import PostgresUnavailable, start_cluster

            try:
                cluster = start_cluster()
                targets.append(("postgresql", lambda name: cluster.create_database(name)))
            except PostgresUnavailable as exc:
                print(f"postgresql skipped: {exc}", file=sys.stderr)
        try:
            for dialect, make in targets:
                results[f"discover/{dialect}"] = bench_discover(make("disc"), args.services, args.rounds)
                print(f"discover over {args.services} services on {dialect}: {results[f'discover/{dialect}']}",
                      flush=True)
                results[f"publish/{dialect}"] = bench_publish(make("pub"), args.clients, args.per_client,
                                                              Path(tmp) / f"home-{dialect}")
                print(f"publish, {args.clients} concurrent clients on {dialect}: {results[f'publish/{dialect}']}",
                      flush=True)
        finally:
            if cluster is not None:
                cluster.stop()
    sqlite_p99 = results["discover/sqlite"]["p99_ms"]
    print(f"\ndiscover p99 on SQLite: {sqlite_p99} ms (goal <= 20 ms: {'met' if sqlite_p99 <= 20 else 'MISSED'})")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
