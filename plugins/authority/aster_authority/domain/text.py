"""The one check behind every id, name and short text the authority takes. Pure.

- A pattern must match the **whole** value (``re.fullmatch``): with ``re.match`` and ``$`` a
  trailing newline passes (``$`` matches before it), and ``"payments\\n"`` would be a deployment
  id that lists print as two lines.
- No **control character** anywhere (C0, DEL, C1: ``\\n``, ``\\r``, ``\\x00``, ``\\x1b`` ...), even
  where no pattern applies (device names, namespace globs, reasons): such a character forges
  extra lines, or terminal escapes, in every table and log that shows the value.
- A **length cap** for every value, so no input costs more than its cap to check.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import invalid

#: C0 controls, DEL and C1 controls
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: a decision's reason or a migration's acknowledgement
MAX_NOTE = 1000


def whole_match(pattern: re.Pattern[str], value: Any) -> bool:
    """``value`` is a string that ``pattern`` matches from its first to its last character."""
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def control_in(value: str) -> str | None:
    """The first control character of ``value``, escaped for a message (``'\\n'``), or None."""
    found = CONTROL.search(value)
    return repr(found.group())[1:-1] if found else None


def shown(value: Any, limit: int = 70) -> str:
    """``value`` quoted for an error message: escaped (``repr``, so a newline shows as ``\\n``)
    and cut to ``limit`` characters."""
    text = value if isinstance(value, str) else str(value)
    return repr(text[:limit]) + ("..." if len(text) > limit else "")


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
