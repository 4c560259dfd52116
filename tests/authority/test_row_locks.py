"""Writers of one deployment queue on its row (aster_server.storage.lock), on SQLite and
PostgreSQL: a writer waits for the transaction holding the row, racing grants of one role add it
once with no error, and a database made before row locks (0002, with the revision column the
compare-and-swap used) upgrades with its rows kept."""

from __future__ import annotations

import concurrent.futures
import threading
import time

import pytest
import sqlalchemy as sa

from aster_authority.domain import plans
from aster_authority.domain.errors import Refusal
from aster_authority.server.store import Store
from aster_authority.server.tables import MIGRATIONS

from tests.support.authority import Signed, make_admin, root_checkpoint

CONSUMER = "cd" * 32


def _store(database_url) -> tuple[Store, Signed]:
    from aster_trust.keys import generate_root_key

    root = generate_root_key()
    st = Store.open(database_url, root.public_key)
    signed = Signed(st, make_admin(root))
    signed.create(plans.SERVICE, "tasks", roles=["tasks"])
    return st, signed


def test_a_writer_waits_for_the_transaction_holding_the_deployment_row(database_url):
    st, signed = _store(database_url)
    held, release = threading.Event(), threading.Event()
    times: dict[str, float] = {}

    def hold(conn):
        st.lock(conn, "tasks")
        held.set()
        release.wait(10)
        times["released"] = time.monotonic()

    try:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            holder = pool.submit(st.write, hold)
            assert held.wait(10)
            granting = pool.submit(signed.grant, "tasks", CONSUMER, ["tasks.reader"], add=True)
            time.sleep(0.5)
            assert not granting.done()  # queued behind the holder, not failed, not run beside it
            release.set()
            holder.result(10)
            assert granting.result(20)["changed"] == ["tasks.reader"]
            times["granted"] = time.monotonic()
        assert times["granted"] >= times["released"]
    finally:
        release.set()
        st.close()


def test_racing_grants_of_one_role_add_it_once(database_url):
    st, signed = _store(database_url)
    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: signed.grant("tasks", CONSUMER, ["tasks.reader"], add=True), range(8)))
        assert sorted(len(a["changed"]) for a in answers) == [0] * 7 + [1]
        assert all(a["roles"] == ["tasks.reader"] for a in answers)
        assert [g["role"] for g in st.grant_list("tasks")["items"]] == ["tasks.reader"]
    finally:
        st.close()


def test_a_0002_database_upgrades_to_0003_keeping_its_deployments(database_url):
    from aster_server import storage
    from aster_trust.keys import generate_root_key

    engine = storage.create_engine(database_url)
    try:
        assert storage.upgrade(engine, MIGRATIONS, "auth0002") == "auth0002"
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO authority_deployments (deployment_id, kind, version, revision, namespaces, compatibility, "
                "review_mode, roles, disabled, desired_manifests, desired_digest, created_at, updated_at) VALUES "
                "('old', 'service', '01J0000000000000000000000Q', 7, '[\"*\"]', 'strict', 'none', '[\"tasks\"]', "
                "false, '[]', '', 1, 2)"))
        assert storage.upgrade(engine, MIGRATIONS) == "auth0005"
        with engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("authority_deployments")}
        assert "revision" not in columns and {"deployment_id", "version", "roles"} <= columns
        root = generate_root_key()
        st = Store(engine, root.public_key)
        shown = st.show(plans.SERVICE, "old")
        assert (shown["version"], shown["roles"], shown["updated_at"]) == ("01J0000000000000000000000Q", ["tasks"], 2)
        signed = Signed(st, make_admin(root))
        with pytest.raises(Refusal) as info:  # made before decision records: a root-signed checkpoint first
            signed.set_disabled(plans.SERVICE, "old", True)
        assert info.value.code == "checkpoint_needed"
        assert root_checkpoint(st, plans.SERVICE, "old", root)["head"]["seq"] == 1
        assert signed.set_disabled(plans.SERVICE, "old", True)["changed"] is True
    finally:
        engine.dispose()
