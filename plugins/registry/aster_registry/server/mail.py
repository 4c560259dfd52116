"""Delivering verification codes: SMTP (``--smtp HOST:PORT``) or the server log (``--dev-mail``).

The code never touches the disk or the database in clear; it exists only in the message.
Headers are built with the standard library's ``email.headerregistry`` and refuse control
characters, so no value a client sent can add a header or end the header block.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from aster_core.errors import UsageError
from aster_core.text import control_in, shown

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


def address(value: str, what: str) -> Address:
    """``value`` as one mail address (``name@host``), built by the standard library's
    ``email.headerregistry``; a ``UsageError`` naming ``what`` when it holds a control
    character (a newline would end the header block and turn the rest into the body) or is not
    one plain address."""
    if not isinstance(value, str) or control_in(value) is not None:
        raise UsageError(f"{what} {shown(value)} holds a control character", "give one plain address")
    try:
        parsed = Address(addr_spec=value)
    except (ValueError, IndexError, HeaderParseError) as exc:
        raise UsageError(f"{what} {shown(value)} is not a mail address ({exc})", "give one plain address") from None
    if not parsed.username or not parsed.domain:
        raise UsageError(f"{what} {shown(value)} is not a mail address", "give one plain address")
    return parsed


def render(mail: Mail, sender: str) -> EmailMessage:
    """The verification mail. Headers are built by ``email.headerregistry`` (addresses) and
    checked for control characters (the subject): nothing a client sent can add a header or
    end the header block (``UsageError``)."""
    subject = f"Your aster verification code for @{mail.handle}"
    if control_in(subject) is not None:
        raise UsageError(f"the subject {shown(subject)} holds a control character", "check the handle")
    msg = EmailMessage()
    msg["From"] = address(sender, "--mail-from")
    msg["To"] = address(mail.to, "the recipient")
    msg["Subject"] = subject
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
            LOG.warning("dev-mail: verification code for @%s <%s>: %s", shown(mail.handle)[1:-1], shown(mail.to)[1:-1],
                        mail.code)
            return "logged"
        return "failed"
    host, port = config.smtp
    try:
        message = render(mail, config.sender)
    except UsageError as exc:  # the values were checked on the way in: this is the last line of defence
        LOG.error("refused to mail the code for @%s: %s", shown(mail.handle)[1:-1], exc.message)
        return "failed"
    try:
        with smtplib.SMTP(host, port, timeout=config.timeout) as smtp:
            if config.starttls:
                smtp.starttls()
            if config.user:
                smtp.login(config.user, config.password or "")
            smtp.send_message(message)
        LOG.info("mailed a verification code for @%s", mail.handle)
        return "sent"
    except (OSError, smtplib.SMTPException) as exc:
        LOG.error("could not mail the code for @%s via %s:%s: %s", mail.handle, host, port, exc)
        return "failed"
