"""Manifests on demand: the cache under the home, read-once-valid-forever, and what a call says without one."""

from __future__ import annotations

import json
import os
import time

from aster_core.testing import run_aster

from tests.support.aio import run
from tests.support.server import start_server

LATE_NEVER = {"ASTER_HARNESS_MANIFEST_DELAY": "never"}


def test_cache_keeps_valid_manifests_and_stays_bounded(tmp_path):
    from aster_connect.cache import ManifestCache

    cache = ManifestCache(tmp_path / "m", max_bytes=2500, max_age=100)
    ids = [f"{i:x}" * 64 for i in range(1, 6)]
    for cid in ids:
        assert cache.put(cid, json.dumps({"contract_id": cid, "methods": [], "pad": "x" * 800}).encode())
    assert not cache.put("a" * 64, json.dumps({"contract_id": "b" * 64, "methods": []}).encode())  # wrong id
    assert not cache.put("c" * 64, b"{not json")
    assert cache.get("a" * 64) is None and cache.get("c" * 64) is None
    # the first write pruned nothing; an explicit prune keeps the newest within max_bytes
    now = time.time()
    for age, cid in enumerate(reversed(ids)):
        os.utime(cache.path(cid), (now - age, now - age))
    assert cache.prune() == 3
    assert [cid for cid in ids if cache.path(cid).exists()] == ids[-2:]
    os.utime(cache.path(ids[-2]), (now - 500, now - 500))
    assert cache.prune() == 1 and not cache.path(ids[-2]).exists()
    assert cache.get(ids[-1])["contract_id"] == ids[-1]
    cache.path(ids[-1]).write_text("{damaged")
    assert cache.get(ids[-1]) is None and not cache.path(ids[-1]).exists()
    assert not list((tmp_path / "m").glob("*.tmp"))


def test_second_connection_reads_no_manifest_from_the_peer(aster_env):
    from aster_connect.client import connect

    with start_server(["tests.support.scale:Svc0", "tests.support.scale:Svc1"]) as srv:
        async def once():
            conn = await connect(srv.address, schemas=["Svc1"])
            async with conn:
                joined = conn.__dict__.get("_registry") is not None
                return dict(conn.manifest_stats), joined, conn.service("Svc1").has_schema, \
                    conn.service("Svc0").has_schema

        first = run(once(), 60)
        stored = sorted(p.name for p in (aster_env / "cache" / "manifests").glob("*.json"))
        second = run(once(), 60)
    assert first == ({"cache_hits": 0, "peer_reads": 1}, True, True, False)
    assert stored == [f"{srv.contract_ids['Svc1']}.json"]  # only the service asked for
    assert second == ({"cache_hits": 1, "peer_reads": 0}, False, True, False)  # the document was never joined


def test_a_cached_manifest_serves_a_peer_that_never_publishes(aster_env):
    """The same contract on a server that never publishes manifests: only the cache can check the request."""
    bad = ["Svc0.m3", json.dumps({"text": "a", "colour": "red"})]
    with start_server(["tests.support.late:Svc0"], env=LATE_NEVER) as silent:
        cold = run_aster(["call", silent.address, *bad, "--json"], env={"ASTER_MANIFEST_TIMEOUT": "3"})
        with start_server(["tests.support.scale:Svc0"]) as normal:
            good = run_aster(["call", normal.address, "Svc0.m3", '{"text": "ab", "n": 2}', "--json"])
        warm = run_aster(["call", silent.address, *bad, "--json"])
        answer = run_aster(["call", silent.address, "Svc0.m3", '{"text": "ab", "n": 2}', "--json"])
    # no schema: the call says which one is missing and why, and what it did instead
    assert "Warning: no method schema for Svc0" in cold.stderr and "not in the peer's registry" in cold.stderr
    assert "unchecked" in cold.stderr and "Traceback" not in cold.stderr
    assert json.loads(good.stdout)["text"] == "abab"
    # from the cache: checked before sending, as with a publishing peer
    assert warm.returncode == 2 and "unknown field 'colour'" in warm.stderr, warm.stderr
    assert "Warning" not in warm.stderr
    assert answer.returncode == 0 and json.loads(answer.stdout) == \
        {"text": "abab", "n": 2, "service": "Svc0", "method": "m3"}


def test_a_manifest_published_late_is_waited_for_or_reported(aster_env):
    from aster_connect.client import connect

    env = {"ASTER_HARNESS_LATE_SERVICES": "Svc1", "ASTER_HARNESS_MANIFEST_DELAY": "3"}
    with start_server(["tests.support.late:Svc0", "tests.support.late:Svc1"], env=env) as srv:
        async def body():
            conn = await connect(srv.address, schemas=False)
            async with conn:
                start = time.monotonic()
                left = [s.name for s in await conn.load_schemas()]
                quick = time.monotonic() - start
                why = dict(conn.schema_missing)
                later = [s.name for s in await conn.load_schemas(until_published=True, timeout=20)]
                return left, quick, why, later, conn.service("Svc1").method("m0") is not None

        left, quick, why, later, known = run(body(), 60)
    assert left == ["Svc1"] and quick < 2.5  # absent after the sync: reported at once, not after the budget
    assert "not in the peer's registry document" in why["Svc1"]
    assert later == [] and known
