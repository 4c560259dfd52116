"""The click-free client API (aster_connect.client) against a real AsterServer."""

from __future__ import annotations

import pytest

from aster_connect.client import connect
from aster_connect.errors import CallDenied, CallError, CallInvalid, CallNotFound, CallUnavailable
from aster_core.errors import ExitCode, UsageError
from tests.support.aio import run


async def _with(address, body, **kwargs):
    conn = await connect(address, **kwargs)
    async with conn:
        return await body(conn)


def test_services_and_schemas_are_listed(server):
    async def body(conn):
        return {s.ref: s for s in conn.services}

    services = run(_with(server.address, body))
    assert set(services) == {"EchoService", "EchoService@1", "CounterSession", "Greeter"}
    echo = services["EchoService@1"]
    assert echo.version == 1 and echo.scoped == "shared"
    assert {"echo", "count", "sum", "chat"} <= set(echo.methods)
    assert echo.methods["count"].pattern == "server_stream"
    assert echo.methods["sum"].pattern == "client_stream"
    assert echo.methods["chat"].pattern == "bidi_stream"
    fields = {f.name: f.kind for f in echo.methods["echo"].fields}
    assert fields == {"text": "string", "times": "int", "inner": "ref", "tags": "list"}
    assert services["CounterSession"].is_session
    assert services["Greeter"].version == 2 and services["EchoService"].version == 2


def test_services_keep_the_published_manifest(server):
    """``ServiceInfo.manifest`` is the manifest as published: the runtime's own method descriptors."""
    import json

    from aster.contract.manifest import extract_method_descriptors
    from tests.support.services import EchoService

    async def body(conn):
        bare = {s.ref: s.manifest for s in conn.services}
        await conn.load_schemas(["EchoService"])
        return bare, {s.ref: s for s in conn.services}

    bare, services = run(_with(server.address, body, schemas=False))
    assert set(bare.values()) == {None}
    echo = services["EchoService@1"]
    published = json.loads(json.dumps(extract_method_descriptors(EchoService.__aster_service_info__)))
    assert echo.manifest["methods"] == published
    attrs = next(f for m in echo.manifest["methods"] if m["name"] == "roundtrip" for f in m["fields"]
                 if f["name"] == "attrs")
    assert (attrs["kind"], attrs["key_kind"], attrs["value_kind"]) == ("map", "string", "string")
    assert services["EchoService"].manifest is not None and services["Greeter"].manifest is None


def test_every_pattern(server):
    async def body(conn):
        unary = await conn.call("EchoService@1", "echo", {"text": "hi", "times": 2})
        stream = [item async for item in conn.invoke("EchoService@1", "count", {"n": 3, "prefix": "p"})]
        total = await conn.call("EchoService@1", "sum", items=[{"value": 2}, {"value": 5}])

        async def messages():
            for text in ("a", "b"):
                yield {"text": text}
        chat = await conn.call("EchoService@1", "chat", items=messages())
        return unary, stream, total, chat

    unary, stream, total, chat = run(_with(server.address, body))
    assert unary["joined"] == "hi hi" and unary["version"] == 1
    assert [item["text"] for item in stream] == ["p-0", "p-1", "p-2"]
    assert total == {"total": 7, "count": 2}
    assert [m["text"] for m in chat] == ["echo: a", "echo: b"]


def test_versions_other_than_1_are_reachable(server):
    async def body(conn):
        greet = await conn.call("Greeter", "greet", {"name": "Ada"})
        v2 = await conn.call("EchoService", "echo", {"text": "hi"})
        v1 = await conn.call("EchoService@1", "echo", {"text": "hi"})
        return greet, v2, v1

    greet, v2, v1 = run(_with(server.address, body))
    assert greet == {"message": "Hello, Ada! (v2)", "version": 2}
    assert (v2["text"], v2["version"]) == ("HI", 2)
    assert (v1["text"], v1["version"]) == ("hi", 1)


def test_session_keeps_state_and_one_off_calls_do_not(server):
    async def body(conn):
        session = await conn.session("CounterSession")
        try:
            first = await session.call("add", {"amount": 2})
            second = await session.call("add", {"amount": 3})
        finally:
            await session.close()
        one_off = await conn.call("CounterSession", "add", {"amount": 10})
        return first, second, one_off

    first, second, one_off = run(_with(server.address, body))
    assert first == {"total": 2, "calls": 1}
    assert second == {"total": 5, "calls": 2}
    assert one_off == {"total": 10, "calls": 1}


def test_status_errors_map_to_exit_codes(server):
    def fail(code):
        async def body(conn):
            await conn.call("EchoService@1", "fail", {"code": code, "message": "boom"})
        with pytest.raises(CallError) as raised:
            run(_with(server.address, body))
        return raised.value

    denied = fail(7)
    assert isinstance(denied, CallDenied) and denied.exit_code == ExitCode.DENIED
    assert denied.status == "PERMISSION_DENIED" and denied.status_code == 7
    assert denied.message == "[PERMISSION_DENIED] boom" and "Credential presented" in denied.hint
    missing = fail(5)
    assert isinstance(missing, CallNotFound) and missing.exit_code == ExitCode.NOT_FOUND
    internal = fail(13)
    assert type(internal) is CallError and internal.exit_code == ExitCode.FAILED
    assert internal.to_dict()["status"] == "INTERNAL"


def test_unknown_names_and_bad_fields_are_caught_before_sending(server):
    async def body(conn):
        found = []
        for args in [("Nope", "x", {}), ("EchoService", "nope", {}),
                     ("EchoService", "echo", {"times": "two"}), ("EchoService", "echo", {"txt": "a"}),
                     ("EchoService@1", "roundtrip", {"mood": 7}), ("EchoService@1", "roundtrip", {"b": 1})]:
            with pytest.raises((CallNotFound, CallInvalid)) as raised:
                await conn.call(*args)
            found.append(raised.value)
        return found

    service, method, wrong_type, unknown, enum, not_bool = run(_with(server.address, body))
    assert isinstance(service, CallNotFound) and "EchoService" in service.hint and "Greeter" in service.hint
    assert isinstance(method, CallNotFound) and "echo" in method.hint
    assert isinstance(wrong_type, CallInvalid) and "'times' must be int" in wrong_type.message
    assert "Did you mean 'text'" in unknown.hint
    assert "must be one of [0, 1, 2]" in enum.message
    assert "'b' must be bool" in not_bool.message


def test_timeout_is_deadline_exceeded(server):
    async def body(conn):
        await conn.call("EchoService@1", "slow", {"ms": 3000}, timeout=0.3)

    with pytest.raises(CallUnavailable) as raised:
        run(_with(server.address, body))
    assert raised.value.status == "DEADLINE_EXCEEDED"


def test_node_addr_and_peer_name_address_forms(server, tmp_path, monkeypatch):
    import tomli_w

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".aster-identity").write_text(tomli_w.dumps(
        {"peers": [{"name": "harness", "role": "producer", "address": server.address}]}))

    async def body(conn):
        return conn.address.kind, await conn.call("Greeter", "greet", {"name": "x"})

    assert run(_with(server.node_addr, body))[0] == "node_addr"
    kind, reply = run(_with("harness", body))
    assert kind == "peer" and reply["message"].startswith("Hello, x")
    with pytest.raises(UsageError) as bad:
        run(_with("no-such-peer", body))
    assert "harness" in bad.value.hint
