"""The plan state machine, transition by transition, and every refusal (pure layer).

The same transitions through a real authority server and database are in
test_server.py; here each rule is pinned on its own."""

from __future__ import annotations

import copy

import pytest

from aster_authority.domain import devices, plans
from aster_authority.domain.classify import check_manifests, classify, digest
from aster_authority.domain.errors import Refusal
from aster_authority.domain.ids import new_ulid
from aster_authority.domain.plans import Actor

NOW = 1_800_000_000
ADMIN = Actor("ab" * 32, "ops")


def deployment(**kw):
    return plans.new_deployment("payments", plans.SERVICE, now=NOW, version=new_ulid(NOW), **kw)


def proposal(dep, manifests, *, now=NOW, pending=(), ttl=plans.DEFAULT_PLAN_TTL):
    c = classify(dep.desired_manifests, manifests)
    return plans.propose(dep, manifests, digest(manifests), classification=c.classification, changes=c.changes,
                         warnings=c.warnings, pending=pending, now=now, plan_id=new_ulid(now),
                         new_version=new_ulid(now), ttl=ttl, actor=ADMIN)


def accepted(dep, manifests):
    """``dep`` with ``manifests`` accepted as its desired state."""
    plan = proposal(dep, manifests).plan
    new_dep, _ = plans.accept(dep, plan, plan.classification, now=NOW + 1, new_version=new_ulid(NOW + 1),
                              actor=ADMIN, acknowledgement="ok" if plan.classification == plans.MIGRATION else None)
    return new_dep


def refused(code, fn, *args, **kw):
    """Run a transition that must be refused with ``code``; the inputs stay exactly as they were."""
    before = copy.deepcopy((args, kw))
    with pytest.raises(Refusal) as info:
        fn(*args, **kw)
    assert info.value.code == code, (info.value.code, info.value.message)
    assert info.value.hint
    assert (args, kw) == before
    return info.value


# ── ids and creation ────────────────────────────────────────────────────────────


def test_ulids_sort_by_time_and_are_unique():
    a, b = new_ulid(NOW), new_ulid(NOW + 1)
    assert len(a) == 26 and a < b
    assert len({new_ulid(NOW) for _ in range(1000)}) == 1000


@pytest.mark.parametrize("bad", ["", "Payments", "-x", "a" * 64, "a b", "a/b", None, 7])
def test_deployment_id_refused(bad):
    e = refused("invalid", plans.new_deployment, bad, plans.SERVICE, now=NOW, version="V")
    assert e.field == "deployment_id" and e.exit_code == 2


@pytest.mark.parametrize("kw,field", [({"compatibility": "loose"}, "compatibility"),
                                      ({"review_mode": "maybe"}, "review_mode"),
                                      ({"roles": ["a,b"]}, "roles"), ({"roles": [""]}, "roles"),
                                      ({"namespaces": [""]}, "namespaces"), ({"namespaces": ["a b"]}, "namespaces")])
def test_create_fields_refused(kw, field):
    e = refused("invalid", plans.new_deployment, "payments", plans.SERVICE, now=NOW, version="V", **kw)
    assert e.field == field and e.message.startswith(field)


def test_new_deployment_defaults():
    dep = deployment(roles=["producer", "producer", "tasks"])
    assert dep.namespaces == ("*",) and dep.compatibility == "strict" and dep.roles == ("producer", "tasks")
    assert dep.ref == "svc/payments" and not dep.desired_manifests and not dep.disabled


# ── propose ──────────────────────────────────────────────────────────────────────


def test_first_proposal_is_a_pending_update(manifests):
    dep = deployment()
    p = proposal(dep, manifests["v1"])
    assert p.created and p.deployment is None
    plan = p.plan
    assert plan.state == plans.PENDING and plan.classification == plans.UPDATE
    assert plan.base_version == dep.version and plan.expires_at == NOW + plans.DEFAULT_PLAN_TTL
    assert [c["kind"] for c in plan.changes] == ["service_added"]
    assert any("first contract" in w for w in plan.warnings)


def test_compatible_change_is_an_update_breaking_one_a_migration(manifests):
    dep = accepted(deployment(), manifests["v1"])
    up = proposal(dep, manifests["update"]).plan
    assert up.classification == plans.UPDATE and all(c["compatible"] for c in up.changes)
    assert {c["kind"] for c in up.changes} == {"method_added", "field_added"}
    mig = proposal(dep, manifests["migration"]).plan
    assert mig.classification == plans.MIGRATION
    assert {(c["kind"], c["compatible"]) for c in mig.changes} == {("method_removed", False),
                                                                   ("field_retyped", False)}


def test_identical_pending_proposal_returns_the_existing_plan(manifests):
    dep = deployment()
    first = proposal(dep, manifests["v1"]).plan
    again = proposal(dep, copy.deepcopy(manifests["v1"]), pending=[first], now=NOW + 60)
    assert not again.created and again.plan == first


def test_expired_or_stale_identical_proposal_makes_a_new_plan(manifests):
    dep = deployment()
    first = proposal(dep, manifests["v1"]).plan
    later = proposal(dep, manifests["v1"], pending=[first], now=first.expires_at)
    assert later.created and later.plan.plan_id != first.plan_id
    moved = plans.set_disabled(plans.set_disabled(dep, True, now=NOW, new_version="V2"), False, now=NOW,
                               new_version="V3")
    assert proposal(moved, manifests["v1"], pending=[first]).created


def test_proposal_equal_to_desired_state_is_unchanged(manifests):
    dep = accepted(deployment(), manifests["v1"])
    p = proposal(dep, manifests["v1"])
    assert p.unchanged and p.plan is None


def test_proposal_outside_the_namespaces_refused(manifests):
    dep = deployment(namespaces=["Payments*", "Billing"])
    e = refused("namespace", plans.propose, dep, manifests["v1"], digest(manifests["v1"]),
                classification="update", changes=[], warnings=[], pending=[], now=NOW, plan_id="P",
                new_version="V")
    assert e.field == "manifests[0].service" and "TaskService" in e.message and e.exit_code == 3
    assert proposal(deployment(namespaces=["Task*"]), manifests["v1"]).created


def test_proposal_on_disabled_deployment_refused(manifests):
    dep = plans.set_disabled(deployment(), True, now=NOW, new_version="V2")
    refused("disabled", plans.propose, dep, manifests["v1"], digest(manifests["v1"]), classification="update",
            changes=[], warnings=[], pending=[], now=NOW, plan_id="P", new_version="V")


def test_empty_proposal_and_bad_ttl_refused(manifests):
    dep = deployment()
    kw = dict(classification="update", changes=[], warnings=[], pending=[], now=NOW, plan_id="P", new_version="V")
    assert refused("invalid", plans.propose, dep, [], "d", **kw).field == "manifests"
    assert refused("invalid", plans.propose, dep, manifests["v1"], "d", ttl=0, **kw).field == "ttl"


def test_mutable_dev_same_services_are_accepted_at_once_and_kept_in_history(manifests):
    dep = accepted(deployment(compatibility="mutable-dev"), manifests["v1"])
    p = proposal(dep, manifests["migration"])
    assert p.created and p.plan.state == plans.ACCEPTED and p.plan.decided_by["name"] == "auto:mutable-dev"
    assert p.deployment.desired_digest == digest(manifests["migration"]) and p.deployment.version != dep.version
    # but the first contract of a mutable-dev deployment is still reviewed
    assert proposal(deployment(compatibility="mutable-dev"), manifests["v1"]).plan.state == plans.PENDING


# ── accept ───────────────────────────────────────────────────────────────────────


def test_accept_update_moves_the_desired_state(manifests):
    dep = deployment()
    plan = proposal(dep, manifests["v1"]).plan
    new_dep, done = plans.accept(dep, plan, plans.UPDATE, now=NOW + 5, new_version="V2", actor=ADMIN,
                                 expected_version=dep.version)
    assert done.state == plans.ACCEPTED and done.decided_at == NOW + 5 and done.decided_by == ADMIN.as_dict()
    assert done.decision_reason is None
    assert new_dep.version == "V2" and new_dep.desired_digest == plan.digest
    assert new_dep.desired_manifests == manifests["v1"]
    assert plan.stale(new_dep) and not plan.stale(dep)


def test_accept_migration_records_the_acknowledgement(manifests):
    dep = accepted(deployment(), manifests["v1"])
    plan = proposal(dep, manifests["migration"]).plan
    new_dep, done = plans.accept(dep, plan, plans.MIGRATION, now=NOW + 5, new_version="V3", actor=ADMIN,
                                 acknowledgement="  clients move to string ids  ")
    assert done.decision_reason == "clients move to string ids" and new_dep.version == "V3"


def test_accept_refusals(manifests):
    dep = accepted(deployment(), manifests["v1"])
    up = proposal(dep, manifests["update"]).plan
    mig = proposal(dep, manifests["migration"]).plan
    kw = dict(now=NOW + 5, new_version="VN", actor=ADMIN)
    # classification mismatch, both ways
    e = refused("classification", plans.accept, dep, mig, plans.UPDATE, **kw)
    assert "accept-migration" in e.hint
    refused("classification", plans.accept, dep, up, plans.MIGRATION, acknowledgement="x", **kw)
    # missing (or blank) acknowledgement
    assert refused("acknowledgement", plans.accept, dep, mig, plans.MIGRATION, **kw).exit_code == 2
    refused("acknowledgement", plans.accept, dep, mig, plans.MIGRATION, acknowledgement="   ", **kw)
    # expected version not current
    e = refused("version_changed", plans.accept, dep, up, plans.UPDATE, expected_version="OLD", **kw)
    assert "desired version changed" in e.message
    # expired
    refused("expired", plans.accept, dep, up, plans.UPDATE, **dict(kw, now=up.expires_at))
    # plan of another deployment
    other = plans.new_deployment("billing", plans.SERVICE, now=NOW, version=dep.version)
    e = refused("other_deployment", plans.accept, other, up, plans.UPDATE, **kw)
    assert e.exit_code == 4 and "billing" in e.message
    # stale: another plan was accepted first
    dep2, _ = plans.accept(dep, up, plans.UPDATE, **kw)
    e = refused("stale", plans.accept, dep2, mig, plans.MIGRATION, acknowledgement="x", **kw)
    assert "apply" in e.hint
    # wrong state: accepting the accepted plan again
    _, done = plans.accept(dep, up, plans.UPDATE, **kw)
    refused("wrong_state", plans.accept, dep2, done, plans.UPDATE, **kw)
    # disabled deployment
    off = plans.set_disabled(dep, True, now=NOW, new_version=dep.version)
    off = plans.Deployment(**{**off.__dict__, "version": dep.version})
    refused("disabled", plans.accept, off, up, plans.UPDATE, **kw)


# ── reject, disable ──────────────────────────────────────────────────────────────


def test_reject_and_its_refusals(manifests):
    dep = deployment()
    plan = proposal(dep, manifests["v1"]).plan
    done = plans.reject(dep, plan, now=NOW + 1, actor=ADMIN, reason=" not now ")
    assert done.state == plans.REJECTED and done.decision_reason == "not now"
    refused("wrong_state", plans.reject, dep, done, now=NOW + 2, actor=ADMIN)
    refused("wrong_state", plans.accept, dep, done, plans.UPDATE, now=NOW + 2, new_version="V", actor=ADMIN)
    refused("expired", plans.reject, dep, plan, now=plan.expires_at, actor=ADMIN)
    other = plans.new_deployment("billing", plans.SERVICE, now=NOW, version=dep.version)
    refused("other_deployment", plans.reject, other, plan, now=NOW, actor=ADMIN)
    # a stale plan can be rejected (that is how it is cleared)
    moved = plans.set_disabled(plans.set_disabled(dep, True, now=NOW, new_version="V2"), False, now=NOW,
                               new_version="V3")
    assert plans.reject(moved, plan, now=NOW + 1, actor=ADMIN).state == plans.REJECTED


def test_expiry_is_a_state_and_the_view_shows_stale(manifests):
    dep = deployment()
    plan = proposal(dep, manifests["v1"]).plan
    assert plan.state_at(plan.expires_at - 1) == plans.PENDING and plan.state_at(plan.expires_at) == plans.EXPIRED
    moved = plans.set_disabled(dep, True, now=NOW, new_version="V2")
    view = plan.view(moved, NOW)
    assert view["stale"] and view["state"] == "pending" and view["services"] == ["TaskService@1"]
    assert not plan.view(dep, NOW)["stale"] and not plan.view(moved, plan.expires_at)["stale"]
    assert "manifests" not in plan.view(dep, NOW, full=False)


def test_disable_enable_bump_the_version_once():
    dep = deployment()
    off = plans.set_disabled(dep, True, now=NOW, new_version="V2")
    assert off.disabled and off.version == "V2"
    assert plans.set_disabled(off, True, now=NOW, new_version="V3") is None
    assert plans.set_disabled(off, False, now=NOW, new_version="V3").version == "V3"


# ── reviews (device deployments use them) ─────────────────────────────────────────


def test_review_decisions():
    r = devices.Review("R1", "sensors", "dev_x", "pending", NOW)
    ok = devices.decide_review(r, "approved", now=NOW + 1, reason="fine")
    assert ok.state == "approved" and ok.decided_at == NOW + 1
    assert devices.decide_review(ok, "approved", now=NOW + 2) is None
    refused("wrong_state", devices.decide_review, ok, "rejected", now=NOW + 2)
    refused("invalid", devices.decide_review, r, "maybe", now=NOW)


# ── manifests ────────────────────────────────────────────────────────────────────


def test_manifest_checks_name_the_field(manifests):
    assert check_manifests(manifests["v1"]) == manifests["v1"]
    bad = copy.deepcopy(manifests["v1"])
    bad[0]["contract_id"] = "nope"
    e = refused("invalid", check_manifests, bad)
    assert e.field == "manifests[0]" and "contract_id" in e.message
    refused("invalid", check_manifests, [])
    refused("invalid", check_manifests, manifests["v1"] * 2)
    assert digest(manifests["v1"]) == digest(copy.deepcopy(manifests["v1"]))
    assert digest(manifests["v1"]) != digest(manifests["update"])


def test_ids_made_in_one_second_sort_in_the_order_they_were_made():
    # The store's clock has whole seconds: plan lists ordered by id must keep creation order.
    ids = [new_ulid(1_700_000_000) for _ in range(200)]
    assert ids == sorted(ids) and len(set(ids)) == 200
    assert all(i.startswith(ids[0][:10]) for i in ids)  # the time part stays that second's
