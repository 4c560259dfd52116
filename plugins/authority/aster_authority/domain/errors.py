"""What the rules raise: :class:`Refusal` (a stable code, a message, a hint, the field at fault),
and the generic input checks (a choice, a note). Ids, names and roles are checked with
``aster_core.text`` (whole matches, no control characters, length caps): :mod:`.ids`."""

from __future__ import annotations

from typing import Any

from aster_core.errors import AsterError, ExitCode
from aster_core.text import control_in, shown


class Refusal(AsterError):
    """A transition or an input the rules refuse: one refusal type for the rules, the store and
    the commands. ``code`` is stable (tests, JSON); ``exit_code`` is the CLI's; ``field`` names
    the input at fault, and only where the message starts with it (``"limit: ..."``), so the
    error text names it once.

    Pure, so the client can raise it too: the server maps it, as any ``AsterError``, through
    ``aster_server.request`` (the status follows the exit code: 2 INVALID_ARGUMENT,
    3 PERMISSION_DENIED, 4 NOT_FOUND, others FAILED_PRECONDITION)."""

    def __init__(self, code: str, message: str, hint: str | None = None, *, field: str | None = None,
                 exit_code: int = ExitCode.FAILED):
        super().__init__(message, hint, exit_code=exit_code)
        self.code = code
        self.field = field


def invalid(field_name: str, message: str, hint: str | None) -> Refusal:
    """Bad input in ``field_name`` (exit 2, INVALID_ARGUMENT)."""
    return Refusal("invalid", f"{field_name}: {message}", hint, field=field_name, exit_code=ExitCode.USAGE)


def check_choice(value: Any, choices: tuple[str, ...], field_name: str) -> str:
    if value not in choices:
        raise invalid(field_name, f"{str(value)[:40]!r} is not one of {', '.join(choices)}",
                      f"use one of: {', '.join(choices)}")
    return value


#: a decision's reason or a migration's acknowledgement
MAX_NOTE = 1000


def check_note(value: str | None, field_name: str) -> str | None:
    """A reason or acknowledgement: one line of at most :data:`MAX_NOTE` characters, stripped;
    None when empty."""
    text = (value or "").strip()
    if len(text) > MAX_NOTE:
        raise invalid(field_name, f"{len(text)} characters, at most {MAX_NOTE}", "say it in one shorter line")
    bad = control_in(text)
    if bad:
        raise invalid(field_name, f"{shown(text, 40)} holds the control character {bad}", "say it in one line")
    return text or None
