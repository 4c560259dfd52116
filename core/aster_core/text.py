"""The one check behind every name, id and short text a command or a server takes from outside.

Standard library only (``re``), so a start-up path may import it.

- A pattern must match the **whole** value (:func:`whole_match`, ``re.fullmatch``): with
  ``re.match`` and a pattern ending in ``$`` a trailing newline passes, because ``$`` also
  matches just before a final ``\\n``. ``"alice\\n"`` was a handle that every listing then
  printed as two lines, and a mail header that ended the header block.
- No **control character** anywhere (:data:`CONTROL`: C0, DEL and C1, tab and newline
  included), even where no pattern applies: such a character forges extra lines, or
  terminal escapes, in every table, log and mail that shows the value.
- A **length cap** for every value, checked first, so no input costs more than its cap.

::

    from aster_core.text import check_text

    handle = check_text(value, field="handle", max_length=39, pattern=HANDLE,
                        what="a handle (a-z, 0-9, single hyphens)", hint="choose another handle")

:func:`check_text` raises :class:`aster_core.errors.UsageError` (exit 2) whose message starts
with the field and whose ``field`` attribute names it; a server's request layer answers it as
INVALID_ARGUMENT naming that field.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import UsageError

__all__ = ["CONTROL", "check_text", "control_in", "shown", "whole_match"]

#: C0 controls (tab, newline and carriage return included), DEL and C1 controls
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def whole_match(pattern: re.Pattern[str], value: Any) -> bool:
    """``value`` is a ``str`` that ``pattern`` matches from its first to its last character."""
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def control_in(value: str) -> str | None:
    """The first control character of ``value``, escaped for a message (``\\n``, ``\\x00``), or None."""
    found = CONTROL.search(value)
    return repr(found.group())[1:-1] if found else None


def shown(value: Any, limit: int = 70) -> str:
    """``value`` quoted for an error message: escaped (``repr``, so a newline shows as ``\\n``)
    and cut to ``limit`` characters."""
    text = value if isinstance(value, str) else str(value)
    return repr(text[:limit]) + ("..." if len(text) > limit else "")


def _refused(field: str, problem: str, hint: str | None) -> UsageError:
    error = UsageError(f"{field}: {problem}", hint)
    error.field = field  # type: ignore[attr-defined]  # the request layer names it to the client
    return error


def check_text(value: Any, *, field: str, max_length: int, pattern: re.Pattern[str] | None = None,
               what: str | None = None, hint: str | None = None) -> str:
    """``value`` when it is a ``str`` of at most ``max_length`` characters, holding no control
    character and, with ``pattern``, matched by it as a whole; else a ``UsageError`` naming
    ``field`` (``what`` says what the value should be, ``hint`` what to do)."""
    if not isinstance(value, str):
        return _no_text(value, field, what, hint)
    if len(value) > max_length:
        raise _refused(field, f"{len(value)} characters, at most {max_length}", hint)
    bad = control_in(value)
    if bad is not None:
        raise _refused(field, f"{shown(value, 40)} holds the control character {bad}", hint)
    if pattern is not None and pattern.fullmatch(value) is None:
        raise _refused(field, f"{shown(value, 40)} is not {what or 'valid here'}", hint)
    return value


def _no_text(value: Any, field: str, what: str | None, hint: str | None) -> str:
    kind = "nothing" if value is None else type(value).__name__
    raise _refused(field, f"expected {what or 'text'}, got {kind}", hint)
