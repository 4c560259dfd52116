"""Delivering verification codes: SMTP (``--smtp HOST:PORT``) or the server log (``--dev-mail``).

The code never touches the disk or the database in clear; it exists only in the message.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from aster_core.errors import UsageError

LOG = logging.getLogger("aster_server.registry.mail")


@dataclass
class Mail:
    """A verification code to deliver once the transaction that made it committed."""

    to: str
    handle: str
    code: str
    expires_at: int


@dataclass
class MailConfig:
    smtp: tuple[str, int] | None = None
    dev_mail: bool = False
    sender: str = "aster-registry@localhost"
    starttls: bool = False
    user: str | None = None
    password: str | None = None
    timeout: float = 15.0

    def describe(self) -> str:
        if self.smtp:
            return f"smtp {self.smtp[0]}:{self.smtp[1]}" + (" starttls" if self.starttls else "")
        return "dev-mail (codes in the server log)" if self.dev_mail else "none"


def parse_smtp(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--smtp {value!r} is not HOST:PORT", "e.g. --smtp 127.0.0.1:25")
    return host.strip("[]"), int(port)


def render(mail: Mail, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = mail.to
    msg["Subject"] = f"Your aster verification code for @{mail.handle}"
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain="aster.local")
    msg.set_content(
        f"Your verification code for @{mail.handle} is:\n\n    {mail.code}\n\n"
        f"Run: aster verify {mail.code}\n\nIt expires in 15 minutes. If you did not ask for it, ignore this mail.\n")
    return msg


def deliver(config: MailConfig, mail: Mail) -> str:
    """Send ``mail``; returns the delivery status reported to the client
    (``sent``, ``logged`` or ``failed``)."""
    if config.smtp is None:
        if config.dev_mail:
            LOG.warning("dev-mail: verification code for @%s <%s>: %s", mail.handle, mail.to, mail.code)
            return "logged"
        return "failed"
    host, port = config.smtp
    try:
        with smtplib.SMTP(host, port, timeout=config.timeout) as smtp:
            if config.starttls:
                smtp.starttls()
            if config.user:
                smtp.login(config.user, config.password or "")
            smtp.send_message(render(mail, config.sender))
        LOG.info("mailed a verification code for @%s", mail.handle)
        return "sent"
    except (OSError, smtplib.SMTPException) as exc:
        LOG.error("could not mail the code for @%s via %s:%s: %s", mail.handle, host, port, exc)
        return "failed"
