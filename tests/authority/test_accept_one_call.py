"""Accepting a plan this machine applied: one call (its record signed from what the apply kept,
after the head the apply pinned), signed again when another admin moved the chain meanwhile;
a plan not applied here is shown first; and a kept plan that is not the authority's is refused
by the authority's check of the record's body (nothing stored). A real `aster authority serve`."""

from __future__ import annotations

import json

import pytest

from tests.support.credentials import write_consumer_identity

DEP = "payments"


class Counted:
    """The client's Authority, with the methods it called noted (the calls still go to the server)."""

    def __init__(self, auth):
        self._auth, self.methods = auth, []

    def __getattr__(self, name):
        return getattr(self._auth, name)

    def call(self, service, method, *args, **kw):
        self.methods.append(method)
        return self._auth.call(service, method, *args, **kw)


def _deployment(auth, manifests):
    from aster_authority.client import deployments

    deployments.create(auth, DEP, roles=["tasks"])
    first = deployments.apply(auth, DEP, manifests["v1"])["plan"]["plan_id"]
    deployments.accept(auth, DEP, first, "update")


def test_a_plan_applied_here_is_accepted_in_one_call(sqlite_mesh, manifests):
    from aster_authority.client import deployments
    from aster_authority.client.connection import Authority

    m = sqlite_mesh
    with Authority.open(m.server.address, str(m.admin_identity)) as auth:
        _deployment(auth, manifests)
        plan = deployments.apply(auth, DEP, manifests["update"])["plan"]
        counted = Counted(auth)
        answer = deployments.accept(counted, DEP, plan["plan_id"], "update")
    assert counted.methods == ["accept"]
    assert answer["plan"]["state"] == "accepted"
    log = m.ok("svc", DEP, "authority", "log")["rows"]
    assert [r["action"] for r in log][-1] == "accept"


def test_a_moved_chain_is_signed_again_and_a_plan_not_applied_here_is_shown_first(sqlite_mesh, manifests,
                                                                                  monkeypatch):
    from aster_authority.client import deployments, grants, known_plans
    from aster_authority.client.connection import Authority

    m = sqlite_mesh
    second, _ = write_consumer_identity(m.root, m.tmp / "second.identity", name="second",
                                        attributes={"aster.role": "authority.admin", "aster.name": "second"})
    with Authority.open(m.server.address, str(m.admin_identity)) as auth, \
            Authority.open(m.server.address, str(second)) as other:
        _deployment(auth, manifests)
        plan = deployments.apply(auth, DEP, manifests["update"])["plan"]
        with monkeypatch.context() as elsewhere:  # the other admin decides from its own machine
            elsewhere.setenv("ASTER_HOME", str(m.tmp / "second-home"))
            grants.grant(other, DEP, "ab" * 32, ["tasks.writer"], add=True)  # the head pinned here is old now
        counted = Counted(auth)
        deployments.accept(counted, DEP, plan["plan_id"], "update")
        assert counted.methods == ["accept", "chain", "accept"]

        plan = deployments.apply(auth, DEP, manifests["migration"])["plan"]
        known_plans.plans_file().unlink()  # as if another machine had applied it
        counted = Counted(auth)
        answer = deployments.accept(counted, DEP, plan["plan_id"], "migration", acknowledgement="callers updated")
    assert counted.methods == ["plan_show", "accept"]
    assert answer["plan"]["state"] == "accepted"


def test_a_kept_plan_that_is_not_the_authoritys_is_refused(sqlite_mesh, manifests):
    from aster_core.errors import AsterError

    from aster_authority.client import deployments, known_plans
    from aster_authority.client.connection import Authority

    m = sqlite_mesh
    with Authority.open(m.server.address, str(m.admin_identity)) as auth:
        _deployment(auth, manifests)
        plan = deployments.apply(auth, DEP, manifests["update"])["plan"]
        path = known_plans.plans_file()
        doc = json.loads(path.read_text())
        for kept in doc["plans"].values():
            kept[plan["plan_id"]]["digest"] = "blake3:" + "0" * 64
        path.write_text(json.dumps(doc))
        before = m.ok("svc", DEP, "authority", "log")["rows"]
        with pytest.raises(AsterError, match="the record decides accept"):
            deployments.accept(auth, DEP, plan["plan_id"], "update")
    assert m.ok("svc", DEP, "authority", "log")["rows"] == before
    assert m.ok("svc", DEP, "authority", "plan", "show", plan["plan_id"])["state"] == "pending"
