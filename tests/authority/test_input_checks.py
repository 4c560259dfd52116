"""Every id, name and short text the authority takes is checked whole (a trailing newline, a
carriage return or a NUL never passes), and role lists are bounded and checked in one pass:
100,000 roles are refused at once by the rules, by a real authority (SQLite and PostgreSQL) and
by the command line."""

from __future__ import annotations

import time

import pytest

from aster_core.testing import assert_clean_error, invoke

from aster_authority.domain import devices, grants, ids, plans
from aster_authority.domain.errors import Refusal

BAD_ENDINGS = ["x\n", "x\r", "x\x00"]
ADMIN = plans.Actor("ab" * 32, "ops")


def _refused(fn, *args, **kw) -> Refusal:
    with pytest.raises(Refusal) as info:
        fn(*args, **kw)
    assert info.value.exit_code == 2, info.value
    return info.value


# ── one test per validator, each with "x\n", "x\r" and "x\0" ─────────────────────


@pytest.mark.parametrize("value", BAD_ENDINGS)
def test_deployment_id(value):
    assert ids.check_deployment_id("x") == "x"
    e = _refused(ids.check_deployment_id, value)
    assert e.field == "deployment_id" and "is not a deployment id" in e.message
    assert "\n" not in e.message and "\r" not in e.message and "\x00" not in e.message  # shown escaped


@pytest.mark.parametrize("value", BAD_ENDINGS)
def test_role(value):
    assert ids.check_roles(["x"]) == ("x",)
    assert _refused(ids.check_roles, ["ok", value]).field == "roles"
    _refused(grants.check_grant_roles, [value])
    _refused(plans.new_deployment, "d", plans.SERVICE, now=1, version="v", roles=[value])


@pytest.mark.parametrize("value", BAD_ENDINGS)
def test_namespace_pattern(value):
    assert ids.check_namespaces(["Task*"]) == ("Task*",)
    assert _refused(ids.check_namespaces, [value]).field == "namespaces"


@pytest.mark.parametrize("value", BAD_ENDINGS)
def test_metadata_key(value):
    assert devices.check_metadata({"x": "1"}) == {"x": "1"}
    assert _refused(devices.check_metadata, {value: "1"}).field == "metadata"


@pytest.mark.parametrize("value", BAD_ENDINGS)
def test_device_name_and_other_metadata_values(value):
    assert devices.check_metadata({"name": "hall 1"}) == {"name": "hall 1"}
    e = _refused(devices.check_metadata, {"name": value})
    assert e.field == "metadata.name" and "control character" in e.message
    _refused(devices.check_metadata, {"serial_number": f"SN{value}1"})
    with pytest.raises(Exception) as info:  # the CLI's --metadata K=V
        devices.parse_metadata_pairs([f"site={value}"])
    assert info.value.exit_code == 2


@pytest.mark.parametrize("value", BAD_ENDINGS)
def test_reasons_and_acknowledgements(value):
    dep = plans.new_deployment("d", plans.SERVICE, now=1, version="v1")
    plan = plans.Plan("p", "d", plans.MIGRATION, plans.PENDING, "v1", [], "blake3:x", [], [], 1, 10**10)
    assert _refused(plans.accept, dep, plan, plans.MIGRATION, now=2, new_version="v2", actor=ADMIN,
                    acknowledgement=f"callers move{value}on").field == "acknowledgement"
    assert _refused(plans.reject, dep, plan, now=2, actor=ADMIN, reason=f"no{value}t now").field == "reason"
    review = devices.Review("r", "d", "dev_x", "pending", 1)
    assert _refused(devices.decide_review, review, "approved", now=2, reason=f"o{value}k").field == "reason"
    # a padded one-line text is still fine
    assert plans.reject(dep, plan, now=2, actor=ADMIN, reason="  not now ").decision_reason == "not now"


@pytest.mark.parametrize("value", BAD_ENDINGS)
def test_a_deployment_id_on_the_command_line(value, tmp_path):
    out = invoke(["svc", value, "show", "--authority", "aster1qqqq"], cwd=tmp_path)
    assert_clean_error(out, 2, "deployment id")


# ── roles: bounded, one pass ──────────────────────────────────────────────────────

MANY = [f"role{n}" for n in range(100_000)]


def test_a_hundred_thousand_roles_are_refused_at_once_by_the_rules():
    started = time.monotonic()
    e = _refused(ids.check_roles, MANY)
    assert time.monotonic() - started < 5
    assert e.field == "roles" and f"at most {ids.MAX_ROLES}" in e.message and "100000 roles" in e.message
    # the cap and the de-duplication, exactly
    assert len(ids.check_roles(MANY[:ids.MAX_ROLES])) == ids.MAX_ROLES
    _refused(ids.check_roles, MANY[:ids.MAX_ROLES + 1])
    assert ids.check_roles(["b", "a", "b", "a"]) == ("b", "a")
    assert len(ids.check_roles(iter(MANY[:3]))) == 3
    _refused(ids.check_roles, iter(MANY))  # an iterator is refused too, without counting it all
    _refused(ids.check_namespaces, [f"S{n}*" for n in range(100_000)])


def test_a_grantee_holds_at_most_the_cap_of_roles():
    held = MANY[:ids.MAX_ROLES - 1]
    assert len(grants.change_roles(held, ["extra"], add=True).roles) == ids.MAX_ROLES
    e = _refused(grants.change_roles, held, ["extra", "more"], add=True)
    assert f"at most {ids.MAX_ROLES}" in e.message
    assert grants.change_roles(MANY[:ids.MAX_ROLES], ["role0"], add=False).changed == ("role0",)


def test_a_real_authority_refuses_a_hundred_thousand_roles_at_once(mesh):
    """Over the wire (about 1 MB of roles) on SQLite and PostgreSQL: INVALID_ARGUMENT naming
    the field, well within the client's timeout, and nothing created."""
    from aster_authority import wire
    from aster_authority.client import deployments
    from aster_authority.client.connection import Authority

    with Authority.open(mesh.server.address, str(mesh.admin_identity)) as auth:
        for request, method in ((wire.CreateDeployment("service", "crowd", roles=MANY), "create"),
                                (wire.CreateDeployment("device", "crowd", roles=MANY), "create")):
            started = time.monotonic()
            with pytest.raises(Exception) as info:
                auth.call(wire.ADMIN, method, request)
            assert time.monotonic() - started < 5
            assert info.value.exit_code == 2 and f"at most {ids.MAX_ROLES}" in info.value.message, info.value
        deployments.create(auth, "crowd", roles=["tasks"])  # a decision: signed, as the CLI does
        started = time.monotonic()
        with pytest.raises(Exception) as info:
            auth.call(wire.ADMIN, "grant_add", wire.GrantChange("crowd", "cd" * 32, MANY))
        assert time.monotonic() - started < 5
        assert info.value.exit_code == 2 and "roles" in info.value.message
    assert mesh.ok("grants", "list", "--deployment", "crowd")["items"] == []
    assert mesh.ok("svc", "crowd", "show")["roles"] == ["tasks"]
