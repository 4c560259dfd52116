"""A hostile authority for tests: a real ``AsterServer`` on loopback that serves the deployment
authority's RPC surface (every service and method of :data:`aster_authority.wire.METHODS`,
with the same request types) and answers whatever the test scripts, as an attacker holding
the authority's host would.

    with HostileAuthority(root.public_hex) as evil:
        evil.answer("AuthorityAdmin.desired", {"deployment_id": "payments", "items": [...], ...})
        evil.answer("AuthorityAdmin.chain", lambda request: {...})     # or a function of the request
        evil.answer("AuthorityAdmin.accept", AsterError("no", exit_code=3))  # a refusal
        ... run the CLI against evil.address ...
        evil.signed()          # every credential the client sent it (uploads, provisions, devices)
        evil.requests("AuthorityAdmin.upload")

or the ``hostile_authority`` fixture: ``evil = hostile_authority(root.public_hex)`` (started,
stopped after the test).

It runs in this process: its own event loop in a thread (the client's ``Authority`` runs its
own), so a test scripts it with plain Python values and reads what it received directly.
Its gate is open and no method requires a role: it answers anyone, as a compromised
authority would.

Unscripted methods answer with sensible defaults where a client only reports what it got
(``upload``: every credential stored; ``provision``, ``register``: registered;
``status``: the root key it claims); any other unscripted call is refused (NOT_FOUND, naming
the method), so a test sees at once which answer it forgot.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import warnings
from typing import Any, Callable, Iterator

import pytest

from aster_core.errors import AsterError


class HostileAuthority:
    def __init__(self, root_pubkey_hex: str, *, timeout: float = 30):
        self.root_pubkey = root_pubkey_hex
        self.timeout = timeout
        self.address = ""
        self.endpoint_id = ""
        self._script: dict[str, Any] = {}
        self._calls: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Any = None

    # -- scripting --------------------------------------------------------------------
    def answer(self, method: str, reply: Any) -> None:
        """Script ``"Service.method"``: a document (dict), a function of the request (a dict)
        returning one, or an :class:`AsterError` to refuse with (its exit code picks the status)."""
        with self._lock:
            self._script[method] = reply

    def requests(self, method: str | None = None) -> list[dict[str, Any]]:
        """The requests received (of ``method`` only, when given), oldest first."""
        with self._lock:
            return [req for name, req in self._calls if method is None or name == method]

    def methods_called(self) -> list[str]:
        with self._lock:
            return [name for name, _ in self._calls]

    def signed(self) -> list[dict[str, Any]]:
        """Every credential a client sent: uploaded by reconcile, registered with an instance
        (``provision``) or with devices (``register``): what it got signed."""
        out: list[dict[str, Any]] = []
        for name, req in self._snapshot():
            if name == "AuthorityAdmin.upload":
                out += [json.loads(doc) for doc in req.get("credentials_json", [])]
            elif name == "AuthorityAdmin.provision" and req.get("credential_json"):
                out.append(json.loads(req["credential_json"]))
            elif name == "DeviceAdmin.register":
                out += [json.loads(doc)["credential"] for doc in req.get("devices_json", [])]
        return out

    def _snapshot(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return list(self._calls)

    # -- answering --------------------------------------------------------------------
    def _respond(self, name: str, request: Any) -> Any:
        from aster import RpcError
        from aster_server.request import rpc_error

        from aster_authority.wire import Reply

        doc = dataclasses.asdict(request) if dataclasses.is_dataclass(request) else dict(request or {})
        with self._lock:
            self._calls.append((name, doc))
            reply = self._script.get(name)
        if reply is None:
            reply = self._default(name, doc)
        elif callable(reply):
            reply = reply(doc)
        if isinstance(reply, AsterError):
            raise rpc_error(reply)
        if isinstance(reply, RpcError):
            raise reply
        return Reply(json=json.dumps(reply))

    def _default(self, name: str, doc: dict[str, Any]) -> Any:
        from aster_authority.domain.ids import instance_id_for

        if name == "AuthorityAdmin.upload":
            results = []
            for n, text in enumerate(doc.get("credentials_json", [])):
                cred = json.loads(text)
                results.append({"index": n, "endpoint_id": cred.get("endpoint_id"), "status": "current",
                                "expires_at": cred.get("expires_at")})
            return {"deployment_id": doc.get("deployment_id"), "desired_version": "hostile", "results": results}
        if name == "AuthorityAdmin.provision":
            cred = json.loads(doc.get("credential_json") or "{}")
            return {"instance_id": instance_id_for(doc["endpoint_id"], doc.get("kind", "service")),
                    "endpoint_id": doc["endpoint_id"], "deployment_id": doc.get("deployment_id"),
                    "expires_at": cred.get("expires_at"), "desired_version": "hostile"}
        if name == "DeviceAdmin.register":
            devices = [json.loads(text) for text in doc.get("devices_json", [])]
            return {"deployment_id": doc.get("deployment_id"),
                    "registered": [{"endpoint_id": d["endpoint_id"], "expires_at": d["credential"].get("expires_at"),
                                    "already": False} for d in devices]}
        if name == "AuthorityNode.status":
            return {"root_pubkey": self.root_pubkey, "caller": "", "caller_name": "", "caller_roles": [],
                    "admin": True}
        return AsterError(f"the hostile authority has no answer scripted for {name}",
                          f"script it: evil.answer({name!r}, ...)", exit_code=4)

    def _services(self) -> list[Any]:
        from aster import rpc, service

        from aster_authority.wire import METHODS, Reply

        built = []
        for service_name, methods in METHODS.items():
            body: dict[str, Any] = {}
            for method, request_type in methods.items():
                body[method] = rpc(self._handler(f"{service_name}.{method}", method, request_type, Reply))
            cls = type(service_name, (), body)
            built.append(service(name=service_name, version=1, public=True)(cls)())
        return built

    def _handler(self, name: str, method: str, request_type: type, reply_type: type) -> Callable[..., Any]:
        hostile = self

        async def handler(self: Any, req: Any) -> Any:  # the runtime skips a first parameter named self
            return hostile._respond(name, req)

        handler.__name__ = handler.__qualname__ = method
        handler.__annotations__ = {"req": request_type, "return": reply_type}
        return handler

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> "HostileAuthority":
        import aster  # noqa: F401  (the runtime's loop policy before the loop exists)

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hostile-authority", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(self.timeout)
        except BaseException:
            self.stop()
            raise
        return self

    async def _start(self) -> None:
        from aster import AsterServer

        from tests.support.serve import loopback_addresses

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the runtime's open-gate warning, per service
            # the mesh root it claims: a credential a client presents is checked against it (open gate)
            self._server = AsterServer(self._services(), root_pubkey=bytes.fromhex(self.root_pubkey),
                                       allow_all_consumers=True)
            await self._server.start()
        self._server.serve()
        self.address, _ = loopback_addresses(self._server)
        self.endpoint_id = self._server.endpoint_id

    def stop(self) -> None:
        if self._loop is None:
            return
        if self._server is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._server.close(), self._loop).result(10)
            except Exception:  # noqa: BLE001 - stopping anyway
                pass
            self._server = None

        async def cancel_the_rest() -> None:  # the runtime's background tasks end with the server
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        try:
            asyncio.run_coroutine_threadsafe(cancel_the_rest(), self._loop).result(5)
        except Exception:  # noqa: BLE001 - stopping anyway
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)
        self._loop = None

    def __enter__(self) -> "HostileAuthority":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


@pytest.fixture
def hostile_authority() -> Iterator[Callable[..., HostileAuthority]]:
    """A factory: ``hostile_authority(root_pubkey_hex)`` is a started :class:`HostileAuthority`;
    every one made is stopped after the test."""
    made: list[HostileAuthority] = []

    def start(root_pubkey_hex: str, **kw: Any) -> HostileAuthority:
        evil = HostileAuthority(root_pubkey_hex, **kw).start()
        made.append(evil)
        return evil

    try:
        yield start
    finally:
        for evil in made:
            evil.stop()
