"""Admins and the decision log end to end: a real `aster authority serve`, the CLI as admins run it.
Reserved roles refused, `authority log` naming who decided what, `authority admins list|revoke`, a
revoked admin refused on its very next call, an unbound admin credential refused with a hint, and
the revocation list refused to a node that is not the deployment's."""

from __future__ import annotations

import pytest

from aster_core.testing import assert_clean_error

from tests.support.credentials import sign_consumer_credential, write_consumer_identity

DEP = "payments"
CONSUMER = "cd" * 32


@pytest.mark.slow
def test_log_admins_revocation_and_unbound_credentials(sqlite_mesh):
    m = sqlite_mesh
    assert_clean_error(m.aster("svc", "evil", "create", "--role", "authority.x"), 2, "reserved")
    m.ok("svc", DEP, "create", "--role", "tasks")
    assert_clean_error(m.aster("grants", "add", "--deployment", DEP, "--consumer", CONSUMER, "--role",
                               "authority.admin"), 2, "reserved")
    second, second_id = write_consumer_identity(m.root, m.tmp / "second.identity", name="second",
                                                attributes={"aster.role": "authority.admin", "aster.name": "second"})
    m.ok("grants", "add", "--deployment", DEP, "--consumer", CONSUMER, "--role", "tasks.reader", "--rcan", str(second))

    log = m.ok("svc", DEP, "authority", "log")
    assert [(r["seq"], r["action"], r["who"]) for r in log["rows"]] == [(1, "create", "ops"), (2, "grant_add", "second")]
    assert log["rows"][1]["endpoint_id"] == second_id and log["rows"][1]["body"].startswith('{"consumer":"cdcd')
    assert log["items"][1]["body"] == {"consumer": CONSUMER, "roles": ["tasks.reader"]}
    assert [r["seq"] for r in log["items"]] == [1, 2] and log["items"][1]["signer"]["endpoint_id"] == second_id
    table = m.aster("svc", DEP, "authority", "log", "--wide", COLUMNS="220")
    assert table.returncode == 0 and "grant_add" in table.stdout and "second" in table.stdout

    admins = {a["name"]: a for a in m.ok("authority", "admins", "list")["items"]}
    assert set(admins) == {"ops", "second"} and admins["second"]["endpoint_id"] == second_id
    assert admins["second"]["roles"] == ["authority.admin"] and admins["second"]["revoked_at"] is None

    # revoked by ops: refused at once, on a read as on a decision
    m.ok("authority", "admins", "revoke", second_id, "--reason", "left the team")
    for args in (("svc", "list"), ("grants", "remove", "--deployment", DEP, "--consumer", CONSUMER, "--role",
                                   "tasks.reader")):
        assert_clean_error(m.aster(*args, "--rcan", str(second)), 3, "revoked", "left the team")
    revoked = {a["name"]: a for a in m.ok("authority", "admins", "list")["items"]}["second"]
    assert revoked["revoked_at"] is not None and revoked["reason"] == "left the team"
    narrow = m.aster("authority", "admins", "list", COLUMNS="80")  # a table: the endpoint whole, revoked kept
    assert narrow.returncode == 0 and second_id in narrow.stdout and "left the" in narrow.stdout, narrow.stdout
    assert [g["role"] for g in m.ok("grants", "list", "--deployment", DEP)["items"]] == ["tasks.reader"]
    assert_clean_error(m.aster("authority", "admins", "revoke", m.ok("authority", "status")["caller"], "--reason",
                               "oops"), 2, "another admin")

    # an admin credential bound to no endpoint works from any node: refused, with how to get a bound one
    unbound = sign_consumer_credential(m.root, m.tmp / "unbound.json",
                                       attributes={"aster.role": "authority.admin", "aster.name": "anyone"})
    assert_clean_error(m.aster("svc", "list", "--rcan", str(unbound)), 3, "aster enroll node")


def test_revocation_list_refused_to_a_node_of_no_deployment(sqlite_mesh):
    from aster_core.errors import AsterError

    from aster_authority import wire
    from aster_authority.client.connection import Authority

    m = sqlite_mesh
    m.ok("svc", DEP, "create", "--role", "tasks")
    stranger, _ = write_consumer_identity(m.root, m.tmp / "stranger.identity", name="s",
                                          attributes={"aster.role": "tasks.reader"})
    with Authority.as_node(m.server.address, stranger) as auth:
        with pytest.raises(AsterError) as info:
            auth.call(wire.NODE, "revocations", wire.DeploymentRef("service", DEP))
    assert info.value.exit_code == 3 and "only to its producers" in info.value.message


def test_a_decision_whose_place_was_taken_is_signed_again(sqlite_mesh):
    """Two admins deciding at once: the record signed against the old head is refused ('decision
    chain moved', nothing stored) and the CLI signs against the new head and sends it again."""
    from aster_authority import wire
    from aster_authority.client import grants
    from aster_authority.client.connection import Authority
    from aster_authority.client.signer import decide

    m = sqlite_mesh
    m.ok("svc", DEP, "create", "--role", "tasks")
    second, _ = write_consumer_identity(m.root, m.tmp / "second.identity", name="second",
                                        attributes={"aster.role": "authority.admin", "aster.name": "second"})
    sent: list[str] = []
    with Authority.open(m.server.address, str(m.admin_identity)) as auth, \
            Authority.open(m.server.address, str(second)) as other:
        def send(record: str) -> dict:
            if not sent:  # the other admin decides between this one's reading the head and sending
                grants.grant(other, DEP, "ab" * 32, ["tasks.writer"], add=True)
            sent.append(record)
            return auth.call(wire.ADMIN, "grant_add", wire.GrantChange(DEP, CONSUMER, ["tasks.reader"], record))

        answer = decide(auth, DEP, "grant_add", {"consumer": CONSUMER, "roles": ["tasks.reader"]}, send)
    assert answer["changed"] == ["tasks.reader"] and len(sent) == 2
    import json

    assert [json.loads(r)["seq"] for r in sent] == [2, 3]
    log = m.ok("svc", DEP, "authority", "log")["rows"]
    assert [(r["seq"], r["action"], r["who"]) for r in log] == [(1, "create", "ops"), (2, "grant_add", "second"),
                                                                (3, "grant_add", "ops")]
