"""What survives: a restart, a kill -9 mid-publish, and a second replica on the same PostgreSQL."""

from __future__ import annotations

import asyncio
import json

import sqlalchemy as sa

from aster_core.testing import assert_clean_error, run_aster
from aster_registry import wire as w
from tests.support.aio import run
from tests.support.registry import start_registry

from .support import Key, RegistryClient, envelope, expect_error, publish_fields
from .test_protocol import PUB, P, verified


def test_restart_keeps_everything_and_old_nonces(database_url, smtp, tmp_path):
    home = tmp_path / "home"
    alice = Key()
    with start_registry(database_url, home=home, smtp=smtp) as first:
        async def before():
            async with RegistryClient(first.address) as c:
                await verified(c, smtp, alice, "alice")
                env = envelope(alice, "publish", **publish_fields("alice"))
                token = (await c.call(PUB, "publish", env)).producer_token
                return env, token
        env, token = run(before(), timeout=90)
    assert first.proc.returncode == 0 and "stopped" in first.log()

    with start_registry(database_url, home=home, smtp=smtp) as second:
        assert second.info["endpoint_id"] == first.info["endpoint_id"]  # the node key was kept

        async def after():
            async with RegistryClient(second.address) as c:
                await expect_error(c.call(PUB, "publish", env), "ALREADY_EXISTS", "replayed")
                status = await c.signed(P, "handle_status", alice)
                assert (status.status, status.services_published, status.recovery_codes_remaining) == ("verified", 1, 8)
                found = await c.call(PUB, "discover", w.DiscoverRequest(query="@alice"))
                assert [s.service_name for s in found.services] == ["TaskService"]
                reply = await c.stubs[PUB].register_endpoint({"producer_token": token, "node_id": "ab" * 32, "ttl": 300})
                assert reply["ok"] is True  # tokens issued before the restart still work

        run(after(), timeout=90)


def test_kill_during_publish_leaves_db_consistent(database_url, smtp, tmp_path):
    home = tmp_path / "home"
    alice = Key()
    reg = start_registry(database_url, home=home, smtp=smtp)
    accepted: list[str] = []

    async def body():
        async with RegistryClient(reg.address) as c:
            await verified(c, smtp, alice, "alice")

            async def one(i: int) -> None:
                try:
                    await c.signed(PUB, "publish", alice, **publish_fields("alice", f"Svc{i}"))
                    accepted.append(f"Svc{i}")
                    if len(accepted) == 3:
                        reg.kill()  # SIGKILL while the other publishes are in flight
                except Exception:  # noqa: BLE001 - the server vanished under them
                    pass

            tasks = [asyncio.create_task(asyncio.wait_for(one(i), 40)) for i in range(25)]
            for _ in range(300):  # until all are done, or the server is dead (then stop waiting on it)
                if all(t.done() for t in tasks) or not reg.alive():
                    break
                await asyncio.sleep(0.1)
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    try:
        run(body(), timeout=120)
    finally:
        reg.kill()
    assert len(accepted) >= 3
    from aster_server.storage import create_engine

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            names = [r[0] for r in conn.execute(sa.text("SELECT service_name FROM registry_services"))]
            assert set(accepted) <= set(names) and len(names) < 25 or len(names) == 25
            for name in names:  # each publish is wholly there: row, endpoint, audit event
                sid = conn.execute(sa.text("SELECT id FROM registry_services WHERE service_name = :n"), {"n": name}).scalar()
                assert conn.execute(sa.text("SELECT count(*) FROM registry_endpoints WHERE service_id = :s"),
                                    {"s": sid}).scalar() == 1
                assert conn.execute(sa.text("SELECT count(*) FROM registry_audit WHERE action = 'publish' AND "
                                            "detail LIKE :d"), {"d": f"{name} %"}).scalar() == 1
            assert conn.execute(sa.text("SELECT count(*) FROM registry_audit WHERE action = 'publish'")).scalar() == len(names)
            assert conn.execute(sa.text("SELECT count(*) FROM registry_recovery_codes")).scalar() in (0, 8)
            orphans = conn.execute(sa.text("SELECT count(*) FROM registry_endpoints e WHERE NOT EXISTS "
                                           "(SELECT 1 FROM registry_services s WHERE s.id = e.service_id)")).scalar()
            assert orphans == 0
    finally:
        engine.dispose()
    # and it starts again on that database
    with start_registry(database_url, home=home, smtp=smtp) as again:
        async def check():
            async with RegistryClient(again.address) as c:
                return (await c.call(PUB, "discover", w.DiscoverRequest(query="@alice", limit=100))).total
        assert run(check(), timeout=60) == len(names)


def test_two_replicas_on_one_postgresql(pg_url, smtp, tmp_path):
    alice = Key()
    with start_registry(pg_url, home=tmp_path / "a", smtp=smtp) as a, \
            start_registry(pg_url, home=tmp_path / "b", smtp=smtp) as b:
        assert a.info["endpoint_id"] != b.info["endpoint_id"]

        async def body():
            async with RegistryClient(a.address) as ca, RegistryClient(b.address) as cb:
                await ca.signed(P, "join", alice, handle="alice", email="alice@example.org", announcements=False)
                code = smtp.code_for("alice@example.org")
                assert (await cb.signed(P, "verify", alice, handle="alice", code=code)).status == "verified"
                assert (await ca.signed(P, "handle_status", alice)).status == "verified"
                # the same envelope to both replicas at once: accepted exactly once
                for round_ in range(3):
                    env = envelope(alice, "publish", **publish_fields("alice", f"Twin{round_}"))
                    results = await asyncio.gather(ca.call(PUB, "publish", env), cb.call(PUB, "publish", env),
                                                   return_exceptions=True)
                    ok = [r for r in results if isinstance(r, w.PublishResult)]
                    refused = [r for r in results if not isinstance(r, w.PublishResult)]
                    assert len(ok) == 1 and len(refused) == 1, results
                    assert "ALREADY_EXISTS" in str(refused[0])
                # a token from one replica works on the other (the key lives in the database)
                token = ok[0].producer_token
                other = cb if results[0] is ok[0] else ca
                assert (await other.stubs[PUB].register_endpoint({"producer_token": token, "node_id": "cd" * 32,
                                                                  "ttl": 300}))["ok"] is True

        run(body(), timeout=120)


def test_dev_mail_prints_the_code(tmp_path):
    key = Key()
    with start_registry(str(tmp_path / "r.db"), home=tmp_path / "home", dev_mail=True) as reg:
        assert reg.info["mail"].startswith("dev-mail")

        async def body():
            async with RegistryClient(reg.address) as c:
                joined = await c.signed(P, "join", key, handle="devy", email="devy@example.org", announcements=False)
                assert joined.email_delivery_status == "logged"
                import re
                import time
                for _ in range(50):
                    m = re.search(r"verification code for @devy <devy@example.org>: (\d{6})", reg.log())
                    if m:
                        break
                    time.sleep(0.1)
                assert (await c.signed(P, "verify", key, handle="devy", code=m.group(1))).status == "verified"

        run(body(), timeout=60)


def test_serve_and_status_errors(tmp_path):
    assert_clean_error(run_aster(["registry", "serve", "--db", str(tmp_path / "x.db")]), 2, "deliver verification codes")
    assert_clean_error(run_aster(["registry", "serve", "--dev-mail", "--db", "mysql://x@y/z"]), 2, "not supported")
    assert_clean_error(run_aster(["registry", "serve", "--smtp", "nohostport", "--db", str(tmp_path / "y.db")]), 2,
                       "HOST:PORT")
    assert_clean_error(run_aster(["registry", "serve", "--dev-mail", "--bind", "127.0.0.1:9000",
                                  "--db", str(tmp_path / "y.db")]), 2, "--bind")
    (tmp_path / "id").write_text("junk")
    assert_clean_error(run_aster(["registry", "serve", "--dev-mail", "--identity", str(tmp_path / "id"),
                                  "--db", str(tmp_path / "y.db")]), 2, "node key")
    assert_clean_error(run_aster(["registry", "status", "--db", "postgresql://u:secret@127.0.0.1:9/none"]), 1,
                       "cannot migrate", "***")
    ok = run_aster(["registry", "status", "--json", "--db", str(tmp_path / "s.db")])
    assert ok.returncode == 0, ok.stderr
    data = json.loads(ok.stdout)
    assert data["schema"] == "r0006" and data["handles"] == 0 and data["database"]["reachable"] is True
    assert data["search"] == "fts5"  # this Python's sqlite3 has FTS5 (the trigram index of r0003)
