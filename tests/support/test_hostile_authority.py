"""Self-test of tests/support/hostile_authority.py: it serves the authority's surface on loopback,
answers what is scripted (a document, a function of the request, a refusal with its status),
refuses what is not, and keeps what it was sent."""

from __future__ import annotations

import json

import pytest

from aster_core.errors import AsterError


def test_scripted_answers_refusals_and_what_it_received(hostile_authority):
    from aster_authority import wire as w
    from aster_authority.client.connection import Authority

    evil = hostile_authority("ab" * 32)
    evil.answer("AuthorityAdmin.desired", {"items": [], "root_pubkey": "ab" * 32})
    evil.answer("AuthorityAdmin.show", lambda request: {"deployment_id": request["deployment_id"]})
    evil.answer("AuthorityAdmin.accept", AsterError("no such plan", "list them", exit_code=4))
    with Authority.open(evil.address, None) as auth:
        assert auth.call(w.ADMIN, "desired", w.Desired("service", "p", ""))["items"] == []
        assert auth.call(w.ADMIN, "show", w.DeploymentRef("service", "q")) == {"deployment_id": "q"}
        with pytest.raises(AsterError) as refused:
            auth.call(w.ADMIN, "accept", w.AcceptPlan("service", "p", "01X"))
        assert refused.value.exit_code == 4 and refused.value.hint == "list them"
        with pytest.raises(AsterError, match="no answer scripted for AuthorityAdmin.plan_list"):
            auth.call(w.ADMIN, "plan_list", w.Page("service", "p"))
        cred = {"type": "policy", "endpoint_id": "cd" * 32, "expires_at": 1, "attributes": {}}
        answer = auth.call(w.ADMIN, "upload", w.Upload("service", "p", [json.dumps(cred)]))
        assert answer["results"] == [{"index": 0, "endpoint_id": "cd" * 32, "status": "current", "expires_at": 1}]
    assert evil.methods_called() == ["AuthorityAdmin.desired", "AuthorityAdmin.show", "AuthorityAdmin.accept",
                                     "AuthorityAdmin.plan_list", "AuthorityAdmin.upload"]
    assert evil.requests("AuthorityAdmin.show")[0]["deployment_id"] == "q"
    assert evil.signed() == [cred]
