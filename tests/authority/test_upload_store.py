"""Reconcile's upload in-process, on SQLite and PostgreSQL: one credential twice in a batch is
stored once, and uploads in flight at the same time queue on the deployment (none loses its
compare-and-swap and redoes its transaction; every credential is stored)."""

from __future__ import annotations

import concurrent.futures
import time

import pytest
import sqlalchemy as sa

from aster_authority.domain import plans
from aster_authority.domain.ids import instance_id_for
from aster_authority.server import tables as store_mod
from aster_authority.server.store import Store

from tests.support.authority import Signed, make_admin

UPLOADER = plans.Actor("ab" * 32, "ops")  # uploads are not decisions: no record


@pytest.fixture
def deployment(database_url, manifests):
    from aster_enroll.identity import NodeKey
    from aster_trust.keys import generate_root_key

    root = generate_root_key()
    st = Store.open(database_url, root.public_key)
    signed = Signed(st, make_admin(root))
    signed.create(plans.SERVICE, "tasks", roles=["tasks"])
    plan = signed.apply(plans.SERVICE, "tasks", manifests["v1"])["plan"]["plan_id"]
    signed.accept(plans.SERVICE, "tasks", plan, plans.UPDATE)
    now = int(time.time())
    with st.engine.begin() as conn:
        conn.execute(sa.insert(store_mod.instances), [
            dict(instance_id=instance_id_for(k.endpoint_id), deployment_id="tasks", kind=plans.SERVICE,
                 endpoint_id=k.endpoint_id, state="active", disabled=False, metadata="{}", created_at=now,
                 renewed_at=None) for k in (NodeKey.generate() for _ in range(40))])
    yield st, root
    st.close()


def signed(st: Store, root) -> list[dict]:
    from aster_trust import credentials

    return [credentials.sign(root, i["type"], expires_at=i["expires_at"], attributes=i["attributes"],
                             endpoint_id=i["endpoint_id"]).to_dict()
            for i in st.desired(plans.SERVICE, "tasks")["items"]]


def test_a_credential_twice_in_one_batch_is_stored_once(deployment):
    st, root = deployment
    doc = signed(st, root)[0]
    results = st.upload(plans.SERVICE, "tasks", [doc, doc], actor=UPLOADER)["results"]
    assert [r["status"] for r in results] == ["current", "failed"]
    assert "uploaded twice" in results[1]["reason"]
    counts = [i["status"] for i in st.desired(plans.SERVICE, "tasks")["items"]]
    assert counts.count("current") == 1 and counts.count("missing") == 39


def test_concurrent_uploads_queue_and_all_are_stored(deployment, monkeypatch):
    st, root = deployment
    lost_swaps = []  # a transaction that failed against another upload (and would have to be redone)
    real_swap = Store.write

    def counting_swap(self, *args, **kw):
        try:
            return real_swap(self, *args, **kw)
        except Exception as exc:
            lost_swaps.append(exc)
            raise

    monkeypatch.setattr(Store, "write", counting_swap)
    docs = signed(st, root)
    batches = [docs[n:n + 4] for n in range(0, len(docs), 4)]  # 10 uploads at once
    with concurrent.futures.ThreadPoolExecutor(len(batches)) as pool:
        answers = list(pool.map(lambda b: st.upload(plans.SERVICE, "tasks", b, actor=UPLOADER), batches))
    assert all(r["status"] == "current" for a in answers for r in a["results"])
    assert {i["status"] for i in st.desired(plans.SERVICE, "tasks")["items"]} == {"current"}
    assert lost_swaps == []
