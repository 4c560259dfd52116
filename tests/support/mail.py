"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message it is sent.

    with MailSink() as mail:                      # or the ``smtp`` fixture
        start the registry with --smtp mail.address
        code = mail.code_for("alice@example.org")             # the code in the first mail to alice
        again = mail.code_for("alice@example.org", after=1)   # ... in the second

The listening socket is bound to port 0 and its port read back afterwards, so two pytest
workers (or two sinks in one test) can never be handed the same port.
"""

from __future__ import annotations

import asyncio
import email
import email.message
import re
import threading
import time
from typing import Iterator

import pytest

_CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


class MailSink:
    """Every message delivered, with its envelope recipients; ``code_for`` waits for one."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.Message]] = []
        self.port = 0
        self._cond = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        """``HOST:PORT`` as the registry's ``--smtp`` takes it."""
        return f"127.0.0.1:{self.port}"

    # -- running

    def start(self) -> "MailSink":
        from aiosmtpd.smtp import SMTP

        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
                message = email.message_from_bytes(envelope.content)
                with sink._cond:
                    sink.messages.append((list(envelope.rcpt_tos), message))
                    sink._cond.notify_all()
                return "250 OK"

        self._loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._server = self._loop.run_until_complete(self._loop.create_server(
                    lambda: SMTP(Handler(), hostname="127.0.0.1"), host="127.0.0.1", port=0))
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:  # reported to the starting thread below
                failure.append(exc)
                started.set()
                return
            started.set()
            self._loop.run_forever()
            self._server.close()
            self._loop.run_until_complete(self._server.wait_closed())
            self._loop.close()

        self._thread = threading.Thread(target=serve, name="mail-sink", daemon=True)
        self._thread.start()
        started.wait(30)
        if failure or not self.port:
            raise RuntimeError(f"the SMTP sink did not start: {failure[0] if failure else 'timed out'}")
        return self

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return

        def shut() -> None:
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            self._loop.stop()

        self._loop.call_soon_threadsafe(shut)
        self._thread.join(10)
        self._thread = None

    def __enter__(self) -> "MailSink":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- reading

    def to(self, recipient: str) -> list[email.message.Message]:
        """The messages whose envelope or ``To:`` names ``recipient``, oldest first."""
        with self._cond:
            return [m for rcpts, m in self.messages if recipient in rcpts or m["To"] == recipient]

    def count(self, recipient: str) -> int:
        return len(self.to(recipient))

    def code_for(self, recipient: str, *, after: int = 0, timeout: float = 15.0) -> str:
        """The 6-digit code in the ``after+1``-th message to ``recipient``, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                mine = self.to(recipient)
                if len(mine) > after:
                    found = _CODE.search(body_text(mine[after]))
                    assert found, f"no 6-digit code in the mail to {recipient}: {body_text(mine[after])!r}"
                    return found.group(1)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no mail #{after + 1} reached {recipient} within {timeout}s "
                                         f"({len(self.messages)} mails in all)")
                self._cond.wait(left)


def body_text(message: email.message.Message) -> str:
    """Every text part of ``message``, decoded and joined."""
    parts = [p.get_payload(decode=True) or b"" for p in message.walk() if not p.is_multipart()]
    return " ".join(p.decode("utf-8", "replace") for p in parts)


@pytest.fixture
def smtp() -> Iterator[MailSink]:
    """A started :class:`MailSink`, stopped after the test."""
    with MailSink() as sink:
        yield sink
