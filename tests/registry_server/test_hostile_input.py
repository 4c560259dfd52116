"""Hostile input to a real registry, on SQLite and on PostgreSQL: every value validator refuses
a trailing newline, a carriage return and a NUL (INVALID_ARGUMENT naming the field, nothing
stored, no mail sent); JSON nested 100,000 levels deep in a signed payload, a manifest or a
producer token is INVALID_ARGUMENT naming the field, never INTERNAL with a RecursionError in the
log; mail headers are built by the standard library and refuse newlines."""

from __future__ import annotations

import json
import secrets
import time

import pytest

from aster_registry import wire as w
from tests.support.aio import run
from tests.support.registry import start_registry

from .support import Key, RegistryClient, count_rows, expect_error, publish_fields
from .test_protocol import ACC, PUB, P, verified

CONTROLS = ("\n", "\r", "\x00")


@pytest.fixture
def registry(database_url, smtp, tmp_path):
    with start_registry(database_url, home=tmp_path / "home", smtp=smtp) as reg:
        yield reg
    log = reg.log()
    assert "Traceback" not in log and "RecursionError" not in log and "INTERNAL" not in log, log[-3000:]


def _signed_text(key: Key, text: str):
    """A SignedRequest over exactly ``text`` (json.dumps cannot even write what these tests send)."""
    return w.SignedRequest(payload_json=text, signer_pubkey=key.pub, signature=key.sign(text.encode()))


def _payload(action: str, extra: str, **fields) -> str:
    """``{"action": ..., <fields>, <extra>, "nonce", "timestamp"}`` with ``extra`` spliced in raw."""
    head = json.dumps({"action": action, **fields}, sort_keys=True, separators=(",", ":"))[:-1]
    return f'{head},{extra},"nonce":"{secrets.token_hex(16)}","timestamp":{int(time.time())}}}'


def test_every_value_with_a_control_character_is_refused_naming_its_field(registry, smtp, database_url):
    alice = Key()

    async def body():
        async with RegistryClient(registry.address) as c:
            await verified(c, smtp, alice, "alice")
            await c.signed(PUB, "publish", alice, **publish_fields("alice"))
            handles, services = count_rows(database_url, "registry_handles"), count_rows(database_url, "registry_services")
            grants, mails = count_rows(database_url, "registry_grants"), len(smtp.messages)
            for bad in CONTROLS:
                shown = repr(bad)[1:-1]
                # ProfileService
                for handle, email, field in ((f"mallory{bad}", "m@example.org", "handle"),
                                             ("mallory", f"m@example.org{bad}", "email"),
                                             ("mallory", f"m@example.org{bad}Bcc: x@evil.example", "email")):
                    msg = await expect_error(c.signed(P, "join", Key(), handle=handle, email=email,
                                                      announcements=False), "INVALID_ARGUMENT", field)
                    assert shown in msg or "email" in msg
                await expect_error(c.call(P, "check_availability", w.CheckAvailabilityRequest(handle=f"carol{bad}")),
                                   "INVALID_ARGUMENT", "handle")
                await expect_error(c.signed(P, "verify", alice, handle="alice", code=f"123456{bad}"),
                                   "INVALID_ARGUMENT", "code")
                # PublicationService
                for over, field in (({"service_name": f"Task{bad}"}, "service_name"),
                                    ({"description": f"Tasks{bad}"}, "description"),
                                    ({"delegation": {"mode": "open", "token_ttl": 300, "rate_limit": f"5/1h{bad}",
                                                     "roles": ["reader"]}}, "rate_limit"),
                                    ({"delegation": {"mode": "open", "token_ttl": 300, "rate_limit": None,
                                                     "roles": [f"reader{bad}"]}}, "roles"),
                                    ({"endpoints": [{"node_id": "ab" * 32, "relay": f"r{bad}", "ttl": 300}]}, "relay"),
                                    ({"endpoints": [{"node_id": "ab" * 32 + bad, "ttl": 300}]}, "node_id"),
                                    ({"endpoints": [{"node_id": "ab" * 32, "direct_addrs": [f"1.2.3.4:5{bad}"],
                                                     "ttl": 300}]}, "direct_addrs")):
                    fields = publish_fields("alice", "Other")
                    fields.update(over)
                    await expect_error(c.signed(PUB, "publish", alice, **fields), "INVALID_ARGUMENT", field)
                await expect_error(c.signed(PUB, "update_service", alice, handle="alice", service_name="TaskService",
                                            description=None, status=None, replacement=f"@bob/TaskService{bad}"),
                                   "INVALID_ARGUMENT", "replacement")
                await expect_error(c.signed(PUB, "update_service", alice, handle="alice", service_name="TaskService",
                                            description=f"new{bad}", status=None, replacement=None),
                                   "INVALID_ARGUMENT", "description")
                await expect_error(c.call(PUB, "discover", w.DiscoverRequest(query=f"task{bad}")),
                                   "INVALID_ARGUMENT", "query")
                await expect_error(c.call(PUB, "get_manifest", w.GetManifestRequest(handle=f"alice{bad}",
                                                                                    service_name="TaskService")),
                                   "INVALID_ARGUMENT")
                # AccessService
                for consumer, role, field in ((f"bob{bad}", "reader", "consumer_handle"), ("bob", f"reader{bad}", "role")):
                    await expect_error(c.signed(ACC, "grant_access", alice, handle="alice", service_name="TaskService",
                                                consumer_handle=consumer, role=role, scope="handle",
                                                scope_node_id=None), "INVALID_ARGUMENT", field)
            assert (count_rows(database_url, "registry_handles"), count_rows(database_url, "registry_services"),
                    count_rows(database_url, "registry_grants")) == (handles, services, grants)
            assert len(smtp.messages) == mails  # no mail went out for any of them
            listed = await c.call(PUB, "discover", w.DiscoverRequest(query="@alice"))
            assert [e.service_name for e in listed.services] == ["TaskService"]

    run(body(), timeout=180)


def test_json_nested_100000_levels_is_invalid_argument_naming_the_field(registry, smtp, database_url):
    alice = Key()
    deep = "[" * 100_000 + "]" * 100_000

    async def body():
        async with RegistryClient(registry.address) as c:
            # in the signed payload itself (a key signs anything: the signature is no shield)
            text = _payload("join", f'"announcements":{deep}', email="deep@example.org", handle="deep")
            msg = await expect_error(c.call(P, "join", _signed_text(Key(), text)), "INVALID_ARGUMENT", "payload_json")
            assert "nested 100001 levels" in msg
            # in a manifest (its contract id is right: only its depth is wrong)
            await verified(c, smtp, alice, "alice")
            manifest = '{"service":"Deep","version":1,"methods":[],"x":' + deep + "}"
            import blake3

            fields = publish_fields("alice", "Deep", manifest_json=manifest,
                                    contract_id=blake3.blake3(manifest.encode()).hexdigest())
            msg = await expect_error(c.signed(PUB, "publish", alice, **fields), "INVALID_ARGUMENT", "manifest_json")
            assert "nested" in msg
            # in the JSON entry of a producer token (an untyped map: its own smaller cap)
            token = '{"producer_token":' + "[" * 30_000 + "]" * 30_000 + "}"
            msg = await expect_error(c.call(PUB, "register_endpoint", {"producer_token": token, "node_id": "ab" * 32}),
                                     "INVALID_ARGUMENT", "producer_token")
            assert "nested" in msg
            # the server is fine afterwards
            assert (await c.call(P, "check_availability", w.CheckAvailabilityRequest(handle="fine"))).available

    run(body(), timeout=120)
    assert count_rows(database_url, "registry_services") == 0


def test_mail_headers_refuse_control_characters():
    from aster_core.errors import UsageError
    from aster_registry.server.mail import Mail, MailConfig, deliver, render

    message = render(Mail("alice@example.org", "alice", "123456", 0), "registry@example.org")
    assert message["To"] == "alice@example.org" and "\n\n" not in str(message["Subject"])
    for bad in CONTROLS:
        for to, sender, handle in ((f"alice@example.org{bad}", "registry@example.org", "alice"),
                                   ("alice@example.org", f"registry@example.org{bad}", "alice"),
                                   ("alice@example.org", "registry@example.org", f"alice{bad}")):
            with pytest.raises(UsageError):
                render(Mail(to, handle, "123456", 0), sender)
    with pytest.raises(UsageError):
        render(Mail("alice@example.org\nBcc: x@evil.example", "alice", "123456", 0), "registry@example.org")
    with pytest.raises(UsageError):
        render(Mail("a@example.org, b@example.org", "alice", "123456", 0), "registry@example.org")
    # a value that slipped past every check is not mailed: the delivery fails, nothing is sent
    assert deliver(MailConfig(smtp=("127.0.0.1", 9)), Mail("a@example.org\n", "alice", "123456", 0)) == "failed"


def test_mail_from_with_a_control_character_is_refused_at_start(tmp_path):
    from aster_core.testing import assert_clean_error, run_aster

    result = run_aster(["registry", "serve", "--dev-mail", "--db", str(tmp_path / "r.db"),
                        "--mail-from", "registry@example.org\nBcc: x@evil.example"], timeout=60)
    assert_clean_error(result, 2, "--mail-from")
