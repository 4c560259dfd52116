"""aster_authority.gate without an authority: the cached list, the grace period, failing closed."""

from __future__ import annotations

import json
import os

import pytest

from tests.support.aio import run


def _dead_ticket() -> str:
    from aster import AsterTicket

    return AsterTicket(endpoint_id=os.urandom(32).hex(), direct_addrs=["127.0.0.1:9"]).to_string()


@pytest.mark.slow
def test_cached_list_serves_through_an_outage_then_the_gate_fails_closed(tmp_path):
    from aster.interceptors.base import CallContext
    from aster.status import RpcError, StatusCode

    from aster_authority.gate import AuthorityGate

    now = [1_000_000.0]
    revoked, granted, stranger = "aa" * 32, "bb" * 32, "cc" * 32
    cache = tmp_path / "revocations.json"
    cache.write_text(json.dumps({"deployment_id": "payments", "fetched_at": now[0] - 50, "list": {
        "revoked": [{"endpoint_id": revoked, "reason": "grants removed"}],
        "granted": {granted: ["tasks.reader"]}}}))
    gate = AuthorityGate(_dead_ticket(), "payments", refresh=10, grace=100, cache_file=cache,
                         clock=lambda: now[0])

    def call(peer, roles=""):
        ctx = CallContext(service="TaskService", method="get", peer=peer, attributes={"aster.role": roles})
        return run(gate.on_request(ctx, "req"), timeout=30)

    # the authority is unreachable: the cached list (50 s old, grace 100 s) still decides
    assert call(granted, "tasks.reader") == "req"
    assert gate.last_error  # it tried, and says why it failed
    with pytest.raises(RpcError) as info:
        call(revoked, "tasks.reader")
    assert info.value.code == StatusCode.PERMISSION_DENIED and "revoked" in info.value.message
    with pytest.raises(RpcError) as info:
        call(granted, "tasks.reader,admin")  # roles no longer granted
    assert info.value.code == StatusCode.PERMISSION_DENIED and "admin" in info.value.message
    assert call(stranger) == "req"  # not refused unless refuse_unknown
    # past the grace period: every call is refused
    now[0] += 60
    with pytest.raises(RpcError) as info:
        call(granted, "tasks.reader")
    assert info.value.code == StatusCode.UNAVAILABLE and "older than 100s" in info.value.message


def test_no_list_at_all_refuses(tmp_path):
    from aster.interceptors.base import CallContext
    from aster.status import RpcError, StatusCode

    from aster_authority.gate import AuthorityGate

    gate = AuthorityGate(_dead_ticket(), "payments", refuse_unknown=True)
    with pytest.raises(RpcError) as info:
        run(gate.on_request(CallContext(service="S", method="m", peer="dd" * 32), None), timeout=30)
    assert info.value.code == StatusCode.UNAVAILABLE
