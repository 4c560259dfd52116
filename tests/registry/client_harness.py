"""What the registry *client* tests run against: real processes on 127.0.0.1, all bounded.

- :class:`MailSink`: a real SMTP server (aiosmtpd) on loopback; tests read the verification
  code out of the delivered mail.
- :func:`start_registry`: ``aster registry serve --db URL --smtp 127.0.0.1:PORT --identity F``
  in a subprocess; its address is the ``aster1...`` ticket it prints. Stopped with SIGTERM
  (then SIGKILL) at teardown. ``ASTER_TEST_REGISTRY_SERVE`` may name another command line to
  run instead (a JSON list), e.g. an installed build of the server.
- :func:`released_cli`: the released ``aster-cli 0.1.2`` (with ``aster-rpc 0.1.2``) in a
  virtualenv of its own, made once and cached under ``build/released-cli-0.1.2`` (pip from
  the index; a lock file serialises concurrent sessions). It never shares a venv with ours.
- :func:`start_producer`: ``tests.support.serve`` running in a producer directory, so the
  runtime reads that directory's ``.aster-identity`` and registers its endpoints.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[2]
RELEASED_VENV = Path(os.environ.get("ASTER_TEST_RELEASED_CLI_VENV") or ROOT / "build" / "released-cli-0.1.2")
RELEASED_PINS = ["aster-rpc==0.1.2", "aster-cli==0.1.2", "mcp<2"]
_TICKET = re.compile(r"aster1[A-Za-z0-9]{20,}")
_CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ── mail ──────────────────────────────────────────────────────────────────────


@dataclass
class MailSink:
    """Every mail delivered to it, as ``(recipients, text)``."""

    port: int = 0
    messages: list[tuple[list[str], str]] = field(default_factory=list)
    _controller: object = None

    def start(self) -> "MailSink":
        from aiosmtpd.controller import Controller

        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
                sink.messages.append((list(envelope.rcpt_tos), envelope.content.decode("utf-8", "replace")))
                return "250 OK"

        self.port = free_port()
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()

    def code_for(self, email: str, *, after: int = 0, timeout: float = 15.0) -> str:
        """The 6-digit code in the newest mail to ``email`` (skipping the first ``after`` of them)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            mails = [text for rcpts, text in self.messages if email in rcpts]
            if len(mails) > after:
                import email as email_lib

                message = email_lib.message_from_string(mails[-1])
                parts = [p.get_payload(decode=True) or b"" for p in message.walk() if not p.is_multipart()]
                body = " ".join(p.decode("utf-8", "replace") for p in parts)
                found = _CODE.search(body)
                if found:
                    return found.group(1)
            time.sleep(0.1)
        raise AssertionError(f"no verification mail reached {email} within {timeout}s ({len(self.messages)} mails)")


# ── processes ─────────────────────────────────────────────────────────────────


@dataclass
class Process:
    proc: subprocess.Popen
    address: str
    lines: list[str]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def _drain(stream, lines: list[str]) -> None:
    for line in iter(stream.readline, ""):
        lines.append(line.rstrip("\n"))


def _loopback(ticket: str) -> str:
    """The ticket with 127.0.0.1 added for each of its ports (see aster_registry.client.resolve)."""
    from aster_registry.client.resolve import with_loopback

    return with_loopback(ticket)


def _wait_for_address(proc: subprocess.Popen, lines: list[str], timeout: float, what: str) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in list(lines):
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                doc = json.loads(line)
                if isinstance(doc, dict) and isinstance(doc.get("address"), str):
                    return doc["address"]
            found = _TICKET.search(line)
            if found:
                return found.group(0)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"{what} printed no address within {timeout}s:\n" + "\n".join(lines[-30:]))


def registry_command(db: str, smtp_port: int, identity: Path) -> list[str]:
    override = os.environ.get("ASTER_TEST_REGISTRY_SERVE")
    base = json.loads(override) if override else [str(Path(sys.executable).with_name("aster")), "registry", "serve"]
    return [*base, "--db", db, "--smtp", f"127.0.0.1:{smtp_port}", "--identity", str(identity)]


def start_registry(db: str, smtp_port: int, workdir: Path, env: dict[str, str], *,
                   timeout: float = 60.0) -> Process:
    """``aster registry serve`` on the database ``db`` (a SQLite path or a postgresql:// URL)."""
    workdir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(registry_command(db, smtp_port, workdir / "registry.identity"), cwd=workdir,
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    lines: list[str] = []
    threading.Thread(target=_drain, args=(proc.stdout, lines), daemon=True).start()
    address = _wait_for_address(proc, lines, timeout, "aster registry serve")
    return Process(proc, _loopback(address), lines)


def start_producer(workdir: Path, env: dict[str, str], services: str = "echo", *,
                   lifetime: float = 120.0) -> Process:
    """The harness services served from ``workdir`` (its ``.aster-identity`` is the producer's)."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.serve", "--services", services, "--workdir",
                             str(workdir), "--max-lifetime", str(lifetime)], cwd=ROOT, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=_drain, args=(proc.stdout, lines), daemon=True).start()
    return Process(proc, _wait_for_address(proc, lines, 60.0, "the producer"), lines)


# ── the released client ───────────────────────────────────────────────────────


def released_cli(timeout: float = 900.0) -> Path:
    """The ``aster`` script of aster-cli 0.1.2 in its own venv (made once, then reused)."""
    import fcntl

    script = RELEASED_VENV / "bin" / "aster"
    marker = RELEASED_VENV / ".complete"
    if marker.exists():
        return script
    RELEASED_VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{RELEASED_VENV}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return script
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(RELEASED_VENV)], check=True, timeout=120)
        subprocess.run([str(RELEASED_VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                        *RELEASED_PINS], check=True, timeout=timeout)
        marker.write_text(" ".join(RELEASED_PINS) + "\n")
    return script


@contextlib.contextmanager
def mail_sink() -> Iterator[MailSink]:
    sink = MailSink().start()
    try:
        yield sink
    finally:
        sink.stop()
