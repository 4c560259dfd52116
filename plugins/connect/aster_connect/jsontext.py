"""JSON a user or an agent typed, read within limits every peer can take.

Python's own reader gives up on deep nesting with ``RecursionError`` (about
1,000 levels) and on integers of more than 4,300 digits with a bare
``ValueError``; smaller excesses parse, are sent, and fail on the server. Here
the limits are ours and each excess is a :class:`JsonLimit` naming it:

- nesting: at most :data:`MAX_NESTING` arrays/objects inside each other;
- integers: 64 bits (``-2**63`` to ``2**64 - 1``), the widest integer the
  runtime's wire types carry;
- numbers: finite (no ``NaN``, ``Infinity``, or ``1e999`` that reads as one).

:func:`loads` reads text; :func:`check_value` checks a value parsed elsewhere
(the MCP SDK's) against the same limits, without recursion.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_NESTING = 100
INT_MIN, INT_MAX = -(2 ** 63), 2 ** 64 - 1
_MAX_DIGITS = len(str(INT_MAX))
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


class JsonLimit(ValueError):
    """A JSON value beyond one of this module's limits (the message says which)."""


def _nesting(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text`` (strings skipped), without parsing it."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub("", text)):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _int(literal: str) -> int:
    digits = literal.lstrip("-")
    if len(digits) > _MAX_DIGITS:
        raise JsonLimit(f"an integer of {len(digits)} digits is out of range (integers have 64 bits)")
    return _in_range(int(literal))


def _in_range(value: int) -> int:
    if not INT_MIN <= value <= INT_MAX:
        raise JsonLimit(f"the integer {str(value)[:24]}... is out of range (integers have 64 bits)"
                        if value.bit_length() > 80 else f"the integer {value} is out of range (integers have 64 bits)")
    return value


def _float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise JsonLimit(f"the number {literal[:24]} is out of range")
    return value


def _constant(name: str) -> Any:
    raise JsonLimit(f"{name} is not a JSON number")


def loads(text: str) -> Any:
    """Parse ``text``; :class:`json.JSONDecodeError` when it is not JSON, :class:`JsonLimit` past a limit."""
    deepest = _nesting(text)
    if deepest > MAX_NESTING:
        raise JsonLimit(f"it is nested {deepest} levels deep (at most {MAX_NESTING})")
    return json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)


def check_value(value: Any) -> Any:
    """Check a parsed value against the same limits (iteratively); returns it unchanged."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, bool) or item is None or isinstance(item, str):
            continue
        if isinstance(item, int):
            _in_range(item)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise JsonLimit(f"the number {item} is out of range")
        elif isinstance(item, (dict, list, tuple)):
            if depth >= MAX_NESTING:
                raise JsonLimit(f"it is nested more than {MAX_NESTING} levels deep")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return value
