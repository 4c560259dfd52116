"""JSON from outside, parsed within limits: the one place those limits live.

Standard library only. Every JSON document a command or a server reads from outside (a file a
user names, a signed payload, a published manifest, a request field) goes through
:func:`loads_limited`::

    from aster_core.jsonlimits import loads_limited

    payload = loads_limited(text, field="payload_json", max_bytes=640 * 1024)

- **Size** first (``max_bytes``, UTF-8 bytes): nothing larger is looked at further.
- **Depth** before parsing (``max_depth`` nested arrays and objects, default
  :data:`MAX_DEPTH`): one linear scan, outside strings. Python's parser recurses once per
  level, so 100,000 levels end in ``RecursionError`` inside it (a server answered INTERNAL
  with a traceback) and anything deep that does parse makes every later walk over it
  (canonical JSON, hashing, printing) recurse as deep.
- Then ``json.loads``; bad syntax, ``NaN``/``Infinity`` when ``constants`` is false, and
  integers longer than Python converts (over 4,300 digits) are refused too.

Every refusal is a :class:`aster_core.errors.UsageError` (exit 2) whose message starts with
``field`` (``"payload_json is not valid JSON here: nested 100000 levels deep, more than 64"``) and whose ``field`` attribute names it, so a server's request layer answers it as
INVALID_ARGUMENT naming the field.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import UsageError

__all__ = ["MAX_BYTES", "MAX_DEPTH", "depth", "loads_limited"]

#: nesting of arrays and objects accepted unless a caller says otherwise (our own documents
#: (credentials, manifests, payloads, identity files) stay under 12)
MAX_DEPTH = 64
#: size accepted unless a caller says otherwise
MAX_BYTES = 16 * 1024 * 1024

#: a JSON string (escapes included), so brackets inside strings are not counted
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
#: everything but brackets
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
#: an opening bracket counts 2, a closing one 0 (see :func:`depth`)
_WEIGHTS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")


def depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text`` (exact for valid JSON; a text that
    is not JSON gets some number and is refused by the parser anyway)."""
    if "[" not in text and "{" not in text:
        return 0
    from itertools import accumulate, count
    from operator import sub

    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text)).encode("ascii").translate(_WEIGHTS)
    # after the i-th bracket (from 1) the level is opens - closes = 2 * opens - i: the running
    # sum of the weights minus i, all in C (a Python loop took 200 ms on 640 KiB of "[]")
    return max(0, max(map(sub, accumulate(brackets), count(1)), default=0))


def _refused(field: str, problem: str, hint: str | None) -> UsageError:
    error = UsageError(f"{field} {problem}", hint)
    error.field = field  # type: ignore[attr-defined]  # the request layer names it to the client
    return error


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def loads_limited(text: str | bytes, *, field: str, max_depth: int = MAX_DEPTH, max_bytes: int = MAX_BYTES,
                  hint: str | None = None, constants: bool = True) -> Any:
    """``json.loads(text)`` when ``text`` is at most ``max_bytes`` (UTF-8) and nests at most
    ``max_depth`` levels; else, or when it is not JSON, a ``UsageError`` naming ``field``.
    ``constants=False`` refuses ``NaN``, ``Infinity`` and ``-Infinity``."""
    import json

    if isinstance(text, (bytes, bytearray)):
        if len(text) > max_bytes:
            raise _refused(field, f"is {len(text)} bytes, more than {max_bytes}", hint)
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise _refused(field, "is not UTF-8 text", hint) from None
    elif not isinstance(text, str):
        raise _refused(field, f"is {type(text).__name__}, not JSON text", hint)
    elif len(text) > max_bytes or (len(text) * 4 > max_bytes and len(text.encode("utf-8", "surrogatepass")) > max_bytes):
        raise _refused(field, f"is larger than {max_bytes} bytes", hint)
    levels = depth(text) if text.count("[") + text.count("{") > max_depth else 0
    if levels > max_depth:
        raise _refused(field, f"is not valid JSON here: nested {levels} levels deep, more than {max_depth}", hint)
    try:
        return json.loads(text) if constants else json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise _refused(field, f"is not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})", hint) from None
    except RecursionError:  # not reached after the depth check; kept so no parser error escapes
        raise _refused(field, "is nested too deeply to read", hint) from None
    except ValueError as exc:  # an integer longer than Python converts, or a refused constant
        raise _refused(field, f"is not valid JSON here ({exc})", hint) from None
