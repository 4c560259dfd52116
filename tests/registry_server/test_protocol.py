"""The registry server against its protocol (docs/registry.md), on SQLite and on PostgreSQL,
through the runtime's own typed client. Each refusal has the right status and stores nothing."""

from __future__ import annotations

import json
import secrets
import time

import pytest

from aster_registry import wire as w
from tests.support.aio import run
from tests.support.registry import start_registry

from .support import Key, RegistryClient, count_rows, envelope, expect_error, publish_fields

P, PUB, ACC = "ProfileService", "PublicationService", "AccessService"


async def verified(c: RegistryClient, smtp, key: Key, handle: str, email: str | None = None) -> None:
    email = email or f"{handle}@example.org"
    before = smtp.count(email)
    joined = await c.signed(P, "join", key, handle=handle, email=email, announcements=False)
    assert joined.status == "pending_verification" and joined.email_delivery_status == "sent"
    code = smtp.code_for(email, after=before)
    assert (await c.signed(P, "verify", key, handle=handle, code=code)).status == "verified"


@pytest.fixture
def registry(database_url, smtp, tmp_path):
    with start_registry(database_url, home=tmp_path / "home", smtp=smtp) as reg:
        yield reg
    assert "Traceback" not in reg.log()


def test_end_to_end(registry, smtp, database_url):
    alice, bob = Key(), Key()

    async def body():
        async with RegistryClient(registry.address) as c:
            avail = await c.call(P, "check_availability", w.CheckAvailabilityRequest(handle="alice"))
            assert avail.available is True
            assert (await c.call(P, "check_availability", w.CheckAvailabilityRequest(handle="admin"))).reason == "reserved"
            await verified(c, smtp, alice, "alice")
            taken = await c.call(P, "check_availability", w.CheckAvailabilityRequest(handle="alice"))
            assert (taken.available, taken.reason) == (False, "taken")
            status = await c.signed(P, "handle_status", alice)
            assert (status.handle, status.status, status.email_masked) == ("alice", "verified", "a***@example.org")
            assert status.registered_at.endswith("Z")
            node = secrets.token_hex(32)
            pub = await c.signed(PUB, "publish", alice, **publish_fields("alice", node_id=node))
            assert pub.first_publish is True and len(pub.recovery_codes) == 8 and pub.producer_token
            assert set(pub.producer_token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
            again = await c.signed(PUB, "publish", alice, **publish_fields("alice", node_id=node))
            assert again.first_publish is False and again.recovery_codes == []  # re-publishing is idempotent
            found = await c.call(PUB, "discover", w.DiscoverRequest(query="task", limit=20, offset=0))
            assert found.total == 1 and found.services[0].service_name == "TaskService"
            entry = found.services[0]
            assert (entry.handle, entry.endpoint_count, entry.method_count, entry.visibility) == ("alice", 1, 2, "public")
            assert (await c.call(PUB, "discover", w.DiscoverRequest(query="@alice"))).total == 1
            assert (await c.call(PUB, "discover", w.DiscoverRequest(query="nothing-like-it"))).total == 0
            listed = await c.call(PUB, "list_services", w.ListServicesRequest(handle="alice"))
            assert [s.service_name for s in listed.services] == ["TaskService"]
            man = await c.call(PUB, "get_manifest", w.GetManifestRequest(handle="@alice", service_name="TaskService"))
            assert json.loads(man.manifest_json)["service"] == "TaskService"
            cards = await c.call(PUB, "list_directory_handles", w.ListDirectoryHandlesRequest(limit=20))
            assert cards.handles[0].handle == "alice" and cards.handles[0].service_count == 1
            # register_endpoint as AsterServer sends it: an untyped map with the identity entry as JSON
            entry_json = json.dumps({"producer_token": pub.producer_token, "contract_id": pub.contract_id,
                                     "service_name": "TaskService"})
            node2 = secrets.token_hex(32)
            reply = await c.stubs[PUB].register_endpoint({"producer_token": entry_json, "node_id": node2, "relay": "",
                                                          "direct_addrs": ["127.0.0.1:4433"], "ttl": 300})
            assert reply["ok"] is True
            resolved = await c.call(PUB, "resolve", w.ResolveRequest(handle="alice", service_name="TaskService"))
            assert len(resolved.endpoints) == 2 and resolved.endpoints[0].startswith("aster1")
            # visibility and update
            await c.signed(PUB, "set_visibility", alice, handle="alice", service_name="TaskService", visibility="private")
            assert (await c.call(PUB, "discover", w.DiscoverRequest(query="task"))).total == 0
            assert (await c.call(PUB, "discover", w.DiscoverRequest(query="@alice"))).total == 1
            upd = await c.signed(PUB, "update_service", alice, handle="alice", service_name="TaskService",
                                 description="Tasks v2", status="stable", replacement=None)
            assert (upd.description, upd.status) == ("Tasks v2", "stable")
            # access
            await verified(c, smtp, bob, "bob")
            g = await c.signed(ACC, "grant_access", alice, handle="alice", service_name="TaskService",
                               consumer_handle="@bob", role="reader", scope="handle", scope_node_id=None)
            assert (g.consumer_handle, g.role, g.scope) == ("bob", "reader", "handle")
            grants = await c.signed(ACC, "list_access", alice, handle="alice", service_name="TaskService")
            assert [(x.consumer_handle, x.role) for x in grants.grants] == [("bob", "reader")]
            mine = await c.signed(ACC, "get_grant", bob, handle="alice", service_name="TaskService")
            assert mine.role == "reader"
            d = await c.signed(ACC, "update_delegation", alice, handle="alice", service_name="TaskService",
                               delegation={"authority": "consumer", "mode": "closed", "token_ttl": 600,
                                           "rate_limit": "5/1h", "roles": ["reader"]})
            assert d.delegation.mode == "closed"
            assert (await c.signed(ACC, "get_delegation", alice, handle="alice", service_name="TaskService")).token_ttl == 600
            rv = await c.signed(ACC, "revoke_access", alice, handle="alice", service_name="TaskService",
                                consumer_handle="bob")
            assert rv.revoked is True
            await expect_error(c.signed(ACC, "get_grant", bob, handle="alice", service_name="TaskService"),
                               "PERMISSION_DENIED", "access denied")
            # a missing service reads as denied in access, not absent
            await expect_error(c.signed(ACC, "get_grant", bob, handle="alice", service_name="Nope"),
                               "PERMISSION_DENIED")
            # unpublish revokes the token
            assert (await c.signed(PUB, "unpublish", alice, handle="alice", service_name="TaskService")).unpublished
            await expect_error(c.stubs[PUB].register_endpoint({"producer_token": entry_json, "node_id": node2,
                                                               "ttl": 300}), "PERMISSION_DENIED", "revoked")
            # recovery: rebind @alice to a new key with a recovery code
            new = Key()
            rec = await c.signed(P, "recover", new, handle="alice", code=pub.recovery_codes[0])
            assert rec.recovery_codes_remaining == 7
            assert (await c.signed(P, "handle_status", new)).handle == "alice"
            await expect_error(c.signed(P, "handle_status", alice), "NOT_FOUND")
            await expect_error(c.signed(P, "recover", Key(), handle="alice", code=pub.recovery_codes[0]),
                               "PERMISSION_DENIED")

    run(body(), timeout=120)
    assert "PublicationService.publish peer=" in registry.log()


def test_refusals_store_nothing(registry, smtp, database_url):
    alice, mallory = Key(), Key()

    async def body():
        async with RegistryClient(registry.address) as c:
            await verified(c, smtp, alice, "alice")
            services_before = count_rows(database_url, "registry_services")
            fields = publish_fields("alice")
            # replay: the same envelope twice
            env = envelope(alice, "publish", **fields)
            await c.call(PUB, "publish", env)
            await expect_error(c.call(PUB, "publish", env), "ALREADY_EXISTS", "replayed")
            nonces = count_rows(database_url, "registry_nonces")
            # stale timestamp
            await expect_error(c.signed(PUB, "publish", alice, ts=int(time.time()) - 301, **fields),
                               "UNAUTHENTICATED", "clock")
            await expect_error(c.signed(PUB, "publish", alice, ts=int(time.time()) + 400, **fields),
                               "UNAUTHENTICATED")
            # wrong signer: signed by mallory, claiming alice's key
            await expect_error(c.signed(PUB, "publish", alice, signer=mallory, **fields),
                               "UNAUTHENTICATED", "signature")
            # forged signature bytes
            good = envelope(alice, "publish", **fields)
            forged = w.SignedRequest(payload_json=good.payload_json.replace("TaskService of", "Evil of"),
                                     signer_pubkey=good.signer_pubkey, signature=good.signature)
            await expect_error(c.call(PUB, "publish", forged), "UNAUTHENTICATED")
            # action mismatch
            wrong = envelope(alice, "unpublish", **fields)
            await expect_error(c.call(PUB, "publish", wrong), "INVALID_ARGUMENT", "does not match")
            # another handle's service: mallory (verified as mal) publishing as alice
            await verified(c, smtp, mallory, "mal")
            await expect_error(c.signed(PUB, "publish", mallory, **publish_fields("alice", "Other")),
                               "PERMISSION_DENIED", "not registered to this signing key")
            await expect_error(c.signed(PUB, "unpublish", mallory, handle="alice", service_name="TaskService"),
                               "PERMISSION_DENIED")
            await expect_error(c.signed(ACC, "grant_access", mallory, handle="alice", service_name="TaskService",
                                        consumer_handle="mal", role="admin", scope="handle", scope_node_id=None),
                               "PERMISSION_DENIED")
            # unverified handle publishing
            pending = Key()
            await c.signed(P, "join", pending, handle="pend", email="pend@example.org", announcements=False)
            await expect_error(c.signed(PUB, "publish", pending, **publish_fields("pend")), "FAILED_PRECONDITION",
                               "not verified")
            # oversize and invalid fields
            big = publish_fields("alice", "Big", description="x" * 281)
            await expect_error(c.signed(PUB, "publish", alice, **big), "INVALID_ARGUMENT", "280")
            huge_manifest = publish_fields("alice", "Huge")
            huge_manifest["manifest_json"] = "{" + " " * (600 * 1024) + "}"
            await expect_error(c.signed(PUB, "publish", alice, **huge_manifest), "INVALID_ARGUMENT")
            bad_cid = publish_fields("alice", "BadCid", contract_id="a" * 64)
            await expect_error(c.signed(PUB, "publish", alice, **bad_cid), "INVALID_ARGUMENT", "BLAKE3")
            ttl = publish_fields("alice", "Ttl", delegation={"mode": "open", "token_ttl": 172800, "roles": ["x"]})
            await expect_error(c.signed(PUB, "publish", alice, **ttl), "INVALID_ARGUMENT", "token_ttl")
            await expect_error(c.call(PUB, "discover", w.DiscoverRequest(query="q" * 201)), "INVALID_ARGUMENT")
            await expect_error(c.signed(P, "join", Key(), handle="Bad--Handle", email="x@example.org",
                                        announcements=False), "INVALID_ARGUMENT")
            await expect_error(c.signed(P, "join", Key(), handle="aster-team", email="y@example.org",
                                        announcements=False), "INVALID_ARGUMENT", "reserved")
            await expect_error(c.signed(P, "join", Key(), handle="okname", email="not-an-email",
                                        announcements=False), "INVALID_ARGUMENT", "email")
            await expect_error(c.signed(P, "join", Key(), handle="alice", email="z@example.org",
                                        announcements=False), "ALREADY_EXISTS", "taken")
            await expect_error(c.signed(P, "join", Key(), handle="alice2", email="alice@example.org",
                                        announcements=False), "ALREADY_EXISTS", "email")
            # wrong codes: attempts counted and reported
            msg = await expect_error(c.signed(P, "verify", pending, handle="pend", code="000000"), "INVALID_ARGUMENT",
                                     "invalid code")
            assert "4 attempts left" in msg or smtp.code_for("pend@example.org") == "000000"
            return services_before, nonces

    services_before, nonces = run(body(), timeout=120)
    assert count_rows(database_url, "registry_services") == services_before + 1  # only the one accepted publish
    # refused signed requests spent no nonce; the accepted ones after the count: mallory's join and
    # verify, pend's join, and pend's wrong code (carried out: its attempt is remembered)
    assert count_rows(database_url, "registry_nonces") == nonces + 4


def test_rate_limits(registry, smtp):
    key = Key()

    async def body():
        async with RegistryClient(registry.address) as c:
            for i in range(3):
                await c.signed(P, "join", key, handle=f"rate{i}x", email=f"r{i}@example.org", announcements=False)
            msg = await expect_error(c.signed(P, "join", key, handle="rate9x", email="r9@example.org",
                                              announcements=False), "RESOURCE_EXHAUSTED", "retry in")
            assert "3 per 1 h" in msg
            for _ in range(30):
                await c.call(P, "check_availability", w.CheckAvailabilityRequest(handle="free-one"))
            await expect_error(c.call(P, "check_availability", w.CheckAvailabilityRequest(handle="free-one")),
                               "RESOURCE_EXHAUSTED")
            # resend cooldown
            await expect_error(c.signed(P, "resend_verification", key, handle="rate2x"), "RESOURCE_EXHAUSTED", "retry in")

    run(body(), timeout=120)
