"""aster_server.request: the caller, offloading, the one refusal type and its mapping to every
RPC status, and paging; over a real AsterServer on loopback (tests/server/request_app.py) and,
for deadlines and unreachable cases, in-process with the runtime's own CallContext."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from aster import RpcError, StatusCode

from aster_core.errors import AsterError, ExitCode, UsageError
from aster_server import lifecycle
from aster_server.request import (HINT_SEP, MAX_OFFSET, Page, Refused, caller, clamp_limit, error_text, offload,
                                  remaining, rpc_error)
from tests.support.aio import run, with_client
from tests.support.credentials import make_root_key, write_consumer_identity
from tests.support.process import start_process

from .request_app import Ask, LayerService

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def layer(tmp_path_factory):
    """The request app, open gate, verifying credentials against a root of its own."""
    state = tmp_path_factory.mktemp("layer")
    root = make_root_key(state)
    env = {**os.environ, "ASTER_RELAY_MODE": "disabled", "PYTHONPATH": str(ROOT), "ASTER_LOG_LEVEL": "warning"}
    log = state / "server.log"
    server = start_process([sys.executable, "-m", "tests.server.request_app", "--state", str(state),
                            "--root-pub", str(root.pubkey_file)], log_path=log, env=env, cwd=ROOT, timeout=60,
                           what="the request app")
    yield {"address": server.info["address"], "root": root, "log": log, "state": state}
    server.stop()


def _calls(address: str, method: str, asks: list[Ask], **client: object) -> list[object]:
    """Each request's response, or the RpcError it raised, over one connection."""

    async def body(c):
        stub = await c.client(LayerService)
        results: list[object] = []
        for ask in asks:
            try:
                results.append(await getattr(stub, method)(ask))
            except RpcError as exc:
                results.append(exc)
        return results

    return run(with_client(address, body, **client), timeout=60)


# ---------------------------------------------------------------------------- over the wire


def test_caller_is_the_connection_with_its_credential(layer, tmp_path):
    identity, endpoint_id = write_consumer_identity(layer["root"], tmp_path / "ops.identity", name="ops",
                                                    attributes={"aster.role": "admin", "aster.name": "ops"})
    who = _calls(layer["address"], "whoami", [Ask()], identity=str(identity))[0]
    assert who.endpoint_id == endpoint_id == endpoint_id.lower() and len(endpoint_id) == 64
    assert who.in_thread == endpoint_id  # offloaded work sees the same caller
    assert who.name == "ops"
    assert json.loads(who.attributes_json) == {"aster.role": "admin", "aster.name": "ops"}


def test_caller_without_a_credential_has_no_attributes(layer):
    async def body(c):
        return c._node.node_id(), await (await c.client(LayerService)).whoami(Ask())

    node_id, who = run(with_client(layer["address"], body), timeout=60)
    assert who.endpoint_id == node_id.lower() == who.in_thread
    assert who.name == "" and json.loads(who.attributes_json) == {}


def test_every_status_reaches_the_client_with_message_hint_and_field(layer):
    statuses = [s for s in StatusCode if s is not StatusCode.OK]
    asks = [Ask(status=s.name, message=f"refused with {s.name.lower()}", hint="do the other thing", field="plan_id")
            for s in statuses]
    asks.append(Ask(status="NOT_FOUND", message="no such plan"))  # neither hint nor field
    results = _calls(layer["address"], "refuse", asks)
    for status, error in zip(statuses, results):
        assert isinstance(error, RpcError), (status, error)
        assert error.code == status
        assert error.message == f"plan_id: refused with {status.name.lower()}{HINT_SEP}do the other thing"
    assert results[-1].code == StatusCode.NOT_FOUND and results[-1].message == "no such plan"


def test_offload_maps_every_kind_of_error_in_one_place(layer):
    kinds = {
        "usage": (StatusCode.INVALID_ARGUMENT, "limit: -1 is negative" + HINT_SEP + "pass 1 or more"),
        "not_found": (StatusCode.NOT_FOUND, "no plan 7" + HINT_SEP + "list the plans"),
        "denied": (StatusCode.PERMISSION_DENIED, "not yours"),
        "unavailable": (StatusCode.UNAVAILABLE, "the engine is down" + HINT_SEP + "start it"),
        "failed": (StatusCode.FAILED_PRECONDITION, "plan 7 was already accepted" + HINT_SEP + "propose a new plan"),
        "rpc_status": (StatusCode.ABORTED, "the deployment kept changing" + HINT_SEP + "retry in a moment"),
        "field": (StatusCode.INVALID_ARGUMENT,
                  "deployment_id: not a deployment id" + HINT_SEP + "use lowercase letters"),
        "busy": (StatusCode.UNAVAILABLE, "the server's database is busy" + HINT_SEP + "retry in a moment"),
        "unexpected": (StatusCode.INTERNAL, "internal error (KeyError); see the server log"),
    }
    results = _calls(layer["address"], "fail", [Ask(kind=k) for k in kinds])
    for (kind, (status, text)), error in zip(kinds.items(), results):
        assert isinstance(error, RpcError), (kind, error)
        assert (error.code, error.message) == (status, text), kind
    log = ""
    for _ in range(50):  # the request log line is written as the call ends
        log = layer["log"].read_text(errors="replace")
        if "LayerService.fail" in log and "secret-detail" in log:
            break
        time.sleep(0.1)
    assert "internal error in LayerService.fail" in log and "Traceback" in log and "secret-detail" in log
    assert "database busy in LayerService.fail" in log


# ---------------------------------------------------------------------------- in-process


def _in_call(coro_fn, **ctx_fields):
    """Run ``coro_fn()`` with ``current_call`` set to a runtime CallContext built from ``ctx_fields``."""
    from aster.interceptors.base import CallContext

    async def body():
        lifecycle.current_call.set(CallContext(service="S", method="m", **ctx_fields) if ctx_fields else None)
        return await coro_fn()

    return run(body(), timeout=30)


def test_caller_without_an_endpoint_id_is_unauthenticated():
    async def ask():
        return caller()

    for fields in ({}, {"peer": None}, {"peer": ""}):
        with pytest.raises(RpcError) as info:
            _in_call(ask, **fields)
        assert info.value.code == StatusCode.UNAUTHENTICATED and "proves no endpoint id" in info.value.message
    who = _in_call(ask, peer="AB" * 32, attributes={"aster.name": "n"})
    assert who.endpoint_id == "ab" * 32 and who.name == "n"


def test_offload_refuses_work_past_its_deadline_without_starting_it():
    started = threading.Event()

    async def work():
        return await offload(started.set)

    with pytest.raises(RpcError) as info:
        _in_call(work, peer="ab" * 32, deadline=time.time() - 0.01)
    assert info.value.code == StatusCode.DEADLINE_EXCEEDED and not started.is_set()
    assert _in_call(work, peer="ab" * 32, deadline=time.time() + 5) is None and started.is_set()


@pytest.mark.alone  # 0.8 s between a thread's deadline and the answer: other tests' load would decide it
def test_offload_answers_at_the_deadline_while_the_work_finishes():
    finished = threading.Event()

    def slow():
        time.sleep(1.0)
        finished.set()

    async def work():
        begun = time.monotonic()
        try:
            await offload(slow)
        finally:
            answered.append((time.monotonic() - begun, finished.is_set()))

    answered: list[tuple[float, bool]] = []
    with pytest.raises(RpcError) as info:
        _in_call(work, peer="ab" * 32, deadline=time.time() + 0.2)
    assert info.value.code == StatusCode.DEADLINE_EXCEEDED and HINT_SEP in info.value.message
    elapsed, work_done = answered[0]
    assert elapsed < 0.8 and not work_done  # answered at the deadline, not when the work ended
    assert finished.wait(5)  # the thread was not killed: its transaction ends normally

    async def left():
        return remaining()

    assert _in_call(left) is None and _in_call(left, peer="x", deadline=None) is None
    assert 0 < _in_call(left, peer="x", deadline=time.time() + 10) <= 10


def test_refused_accepts_every_status_and_exits_with_the_matching_code():
    expected_exit = {StatusCode.INVALID_ARGUMENT: ExitCode.USAGE, StatusCode.OUT_OF_RANGE: ExitCode.USAGE,
                     StatusCode.CONTRACT_VIOLATION: ExitCode.USAGE, StatusCode.NOT_FOUND: ExitCode.NOT_FOUND,
                     StatusCode.UNIMPLEMENTED: ExitCode.NOT_FOUND, StatusCode.PERMISSION_DENIED: ExitCode.DENIED,
                     StatusCode.UNAUTHENTICATED: ExitCode.DENIED, StatusCode.UNAVAILABLE: ExitCode.UNAVAILABLE,
                     StatusCode.DEADLINE_EXCEEDED: ExitCode.UNAVAILABLE, StatusCode.CANCELLED: ExitCode.INTERRUPTED}
    for status in StatusCode:
        for given in (status, status.name):
            refusal = Refused(given, "no", "hint", "f")
            assert refusal.status is status and isinstance(refusal, AsterError)
            assert refusal.exit_code == expected_exit.get(status, ExitCode.FAILED)
            error = rpc_error(refusal)
            assert error.code is status and error.message == "f: no" + HINT_SEP + "hint"
    with pytest.raises(ValueError):
        Refused("NOT_A_STATUS", "no")


def test_error_text_and_the_mapping_of_errors_outside_a_call():
    assert error_text("m") == "m"
    assert error_text("m", "h", "f") == "f: m\nHint: h"
    assert error_text("f: m", field="f") == "f: m" and error_text("f must be set", field="f") == "f must be set"
    assert rpc_error(UsageError("bad")).code == StatusCode.INVALID_ARGUMENT
    original = RpcError(StatusCode.ABORTED, "as is")
    assert rpc_error(original) is original
    assert rpc_error(ValueError("leak")).message == "internal error (ValueError); see the server log"


def test_paging_clamps_the_limit_and_refuses_bad_values():
    assert clamp_limit(0, 100, 20) == 20 and clamp_limit(None, 100) == 100
    assert clamp_limit(7, 100) == 7 and clamp_limit(500, 100, 20) == 100
    for bad in (-1, "10", 2.5, True):
        with pytest.raises(Refused) as info:
            clamp_limit(bad, 100)
        assert info.value.status == StatusCode.INVALID_ARGUMENT and info.value.field == "limit"
    for bad in (-5, MAX_OFFSET + 1, "3"):
        with pytest.raises(Refused) as info:
            Page.of(10, bad, 100)
        assert info.value.field == "offset"
    page = Page.of(3, 6, 100)
    assert (page.limit, page.offset, page.fetch) == (3, 6, 4)
    assert page.cut([1, 2, 3, 4]) == ([1, 2, 3], 9) and page.cut([1, 2]) == ([1, 2], None)
    assert page.next_offset(10) == 9 and page.next_offset(9) is None
    assert Page.of(None, None, 50) == Page(50, 0)


def test_offload_passes_results_and_arguments_through():
    async def work():
        return await offload(lambda a, b=0: a + b, 2, b=3)

    assert _in_call(work, peer="ab" * 32) == 5
    assert asyncio.iscoroutinefunction(offload)
