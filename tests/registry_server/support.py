"""A real `aster registry serve` in a subprocess, a real SMTP sink (aiosmtpd), and a small
signed client on the runtime's typed client with our wire types.

    with start_registry(db_url, smtp=sink) as reg:      # or dev_mail=True
        async with RegistryClient(reg.address) as c:
            await c.signed("ProfileService", "join", key, handle="alice", email="a@example.org")
"""

from __future__ import annotations

import email
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------- SMTP sink


class SmtpSink:
    """aiosmtpd on 127.0.0.1 collecting every message; ``code_for(email)`` waits for one."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[email.message.Message] = []
        self._cond = threading.Condition()
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
                msg = email.message_from_bytes(envelope.content)
                with sink._cond:
                    sink.messages.append(msg)
                    sink._cond.notify_all()
                return "250 OK"

        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> "SmtpSink":
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def count(self, to: str) -> int:
        with self._cond:
            return sum(1 for m in self.messages if m["To"] == to)

    def code_for(self, to: str, *, after: int = 0, timeout: float = 10.0) -> str:
        """The code in the ``after+1``-th mail to ``to``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                mine = [m for m in self.messages if m["To"] == to]
                if len(mine) > after:
                    body = mine[after].get_payload(decode=True).decode()
                    return re.search(r"\b(\d{6})\b", body).group(1)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no mail to {to} within {timeout}s")
                self._cond.wait(left)


# ---------------------------------------------------------------------------- server


@dataclass
class Registry:
    proc: subprocess.Popen
    info: dict[str, Any]
    home: Path
    stderr_path: Path
    _final: str | None = None

    @property
    def address(self) -> str:
        return self.info["address"]

    def log(self) -> str:
        return self._final if self._final is not None else self.stderr_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._finish()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._finish()

    def _finish(self) -> None:
        if self._final is None:
            self._final = self.stderr_path.read_text(errors="replace")
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream and not stream.closed:
                stream.close()

    def __enter__(self) -> "Registry":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def registry_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASTER_ENROLLMENT", "ASTER_IDENTITY",
                                                                    "ASTER_SECRET_KEY", "ASTER_ROOT"))}
    env.update({"ASTER_HOME": str(home), "ASTER_RELAY_MODE": "disabled", "ASTER_LOG_LEVEL": "warning",
                "PYTHONUNBUFFERED": "1"})
    env.update(extra or {})
    return env


def start_registry(db: str, *, home: Path, smtp: SmtpSink | None = None, dev_mail: bool = False,
                   extra: tuple[str, ...] = (), env: dict[str, str] | None = None,
                   timeout: float = 60, max_lifetime: float = 300) -> Registry:
    home.mkdir(parents=True, exist_ok=True)
    args = [str(ROOT / ".venv" / "bin" / "aster"), "registry", "serve", "--db", db, "--bind", "127.0.0.1",
            "--max-lifetime", str(max_lifetime), *extra]
    if smtp is not None:
        args += ["--smtp", smtp.address]
    if dev_mail:
        args.append("--dev-mail")
    stderr_path = home / f"registry-{secrets.token_hex(3)}.log"
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                env=registry_env(home, env), cwd=home)
    import selectors

    buf = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while b"\n" not in buf and time.monotonic() < deadline:
            if sel.select(max(0.0, deadline - time.monotonic())):
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                buf += chunk
    if b"\n" not in buf:
        proc.kill()
        proc.wait(10)
        raise AssertionError(f"registry did not start: {stderr_path.read_text(errors='replace')}")
    return Registry(proc, json.loads(buf.split(b"\n", 1)[0]), home, stderr_path)


# ---------------------------------------------------------------------------- client


class Key:
    """An ed25519 root key pair (what `aster profile create` keeps in the keyring)."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        self._key = Ed25519PrivateKey.generate()
        self.pub = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()

    def sign(self, data: bytes) -> str:
        return self._key.sign(data).hex()


def envelope(key: Key, action: str, *, ts: int | None = None, nonce: str | None = None, signer: Key | None = None,
             **fields: Any) -> Any:
    """A SignedRequest exactly as aster-cli 0.1.2 builds it (registry.md §2.1)."""
    from aster_registry.wire import SignedRequest

    payload = {"action": action, **fields, "timestamp": int(time.time()) if ts is None else ts,
               "nonce": nonce or secrets.token_hex(16)}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return SignedRequest(payload_json=text, signer_pubkey=key.pub, signature=(signer or key).sign(text.encode()))


class RegistryClient:
    """The runtime's typed clients for the three services, over one connection."""

    def __init__(self, address: str) -> None:
        self.address = address

    async def __aenter__(self) -> "RegistryClient":
        from aster import AsterClient

        from aster_registry.server.service import AccessService, ProfileService, PublicationService

        self.client = AsterClient(address=self.address)
        await self.client.connect()
        self.stubs = {"ProfileService": await self.client.client(ProfileService),
                      "PublicationService": await self.client.client(PublicationService),
                      "AccessService": await self.client.client(AccessService)}
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.close()

    async def call(self, service: str, method: str, request: Any) -> Any:
        return await getattr(self.stubs[service], method)(request)

    async def signed(self, service: str, method: str, key: Key, **fields: Any) -> Any:
        return await self.call(service, method, envelope(key, method, **fields))


async def expect_error(coro: Any, code: str, *needles: str) -> str:
    from aster import RpcError

    try:
        result = await coro
    except RpcError as exc:
        assert exc.code.name == code, f"expected {code}, got {exc.code.name}: {exc.message}"
        for needle in needles:
            assert needle in exc.message, f"{needle!r} not in {exc.message!r}"
        return exc.message
    raise AssertionError(f"expected {code}, got a result: {result!r}")


def manifest_for(service_name: str = "TaskService", methods: int = 2, extra: str = "") -> tuple[str, str]:
    """``(manifest_json, contract_id)`` the way aster-cli 0.1.2 computes the directory id (§4.9)."""
    import blake3

    manifest = {"v": 1, "service": service_name, "version": 1, "contract_id": "0" * 64,
                "methods": [{"name": f"m{i}", "pattern": "unary"} for i in range(methods)], "note": extra}
    text = json.dumps(manifest)
    return text, blake3.blake3(text.encode()).hexdigest()


def publish_fields(handle: str, service_name: str = "TaskService", node_id: str | None = None, **over: Any) -> dict:
    manifest_json, cid = manifest_for(service_name)
    fields = {"handle": handle, "service_name": service_name, "contract_id": cid, "manifest_json": manifest_json,
              "description": f"{service_name} of {handle}", "status": "experimental",
              "endpoints": [{"node_id": node_id or secrets.token_hex(32), "relay": "", "registered_at": int(time.time()),
                             "ttl": 300}],
              "delegation": {"authority": "consumer", "mode": "open", "token_ttl": 300, "rate_limit": None,
                             "roles": ["consumer"]}}
    fields.update(over)
    return fields
