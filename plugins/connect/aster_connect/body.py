"""The request body of ``aster call -d``: JSON text, ``@FILE`` or ``@-`` (stdin), read within limits.

The body is one JSON document: the request object, or for client and bidi streams an array of
requests. A body of several lines that is not one document is read as JSON lines, one request
each (what ``-d @-`` gets from a program writing one request per line).

Limits: at most :data:`MAX_BODY` bytes (the runtime's largest frame; reading stops there, so
``-d @/dev/zero`` ends at once), nesting and numbers as for a JSON argument
(:mod:`aster_connect.jsontext`), checked by :func:`aster_core.jsonlimits.loads_limited`
before parsing.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import IO, Any

from aster_core.errors import UsageError

__all__ = ["MAX_BODY", "read_body", "parse_body"]

#: bytes a body may hold: the runtime's largest frame (16 MiB)
MAX_BODY = 16 * 1024 * 1024
HINT = "Give -d a JSON object, -d @FILE (a file holding one) or -d @- (read from stdin)."


def _bounded(stream: IO[bytes], what: str) -> bytes:
    data = stream.read(MAX_BODY + 1)
    if len(data) > MAX_BODY:
        raise UsageError(f"{what} is larger than {MAX_BODY} bytes", "Send a smaller request.")
    return data


def _read_file(name: str) -> bytes:
    from aster_core.files import read_bytes

    path = Path(name).expanduser()
    what = "the -d file"
    try:
        mode = path.stat().st_mode
    except OSError:
        mode = 0
    if not mode or stat.S_ISDIR(mode):
        return read_bytes(path, what, HINT)  # its error: missing (exit 4), a directory, no permission
    if stat.S_ISREG(mode):
        if path.stat().st_size > MAX_BODY:
            raise UsageError(f"{what} {path} is larger than {MAX_BODY} bytes", "Send a smaller request.")
        return read_bytes(path, what, HINT)
    try:  # a pipe or device (`-d @<(make-request)`): read as much as a body may hold
        with open(path, "rb") as stream:
            return _bounded(stream, f"{what} {path}")
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}", HINT) from None


def read_body(spec: str, stdin: IO[bytes] | None = None) -> Any:
    """The request ``-d SPEC`` names, parsed (UsageError naming the source when it cannot be)."""
    if not spec.startswith("@"):
        return parse_body(spec.encode("utf-8", "surrogatepass"), "the -d value")
    name = spec[1:]
    if not name:
        raise UsageError("-d @ names no file", HINT)
    if name == "-":
        if stdin is None:
            if sys.stdin is None:
                raise UsageError("-d @- but there is no stdin", HINT)
            if sys.stdin.isatty():
                print("Reading the request from stdin; end with Ctrl-D.", file=sys.stderr)
            stdin = sys.stdin.buffer
        return parse_body(_bounded(stdin, "the request on stdin"), "the request on stdin")
    return parse_body(_read_file(name), f"the -d file {os.fspath(Path(name))}")


def parse_body(raw: bytes, what: str) -> Any:
    """One JSON document, else JSON lines (a list of requests), within the limits above."""
    from aster_core.jsonlimits import loads_limited

    from .jsontext import MAX_NESTING, JsonLimit, check_value

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{what} is not UTF-8 text", HINT) from None
    if not text.strip():
        raise UsageError(f"{what} is empty", HINT)
    limits = {"max_depth": MAX_NESTING, "max_bytes": MAX_BODY, "constants": False, "hint": HINT}
    try:
        try:
            return check_value(loads_limited(text, field=what, **limits))
        except UsageError as whole:
            lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
            if len(lines) < 2:
                raise
            try:
                first = loads_limited(lines[0][1], field=f"{what}, line {lines[0][0]}", **limits)
            except UsageError:
                raise whole from None  # not JSON lines either: the whole document's error says more
            items = [first] + [loads_limited(line, field=f"{what}, line {n}", **limits) for n, line in lines[1:]]
            return [check_value(item) for item in items]  # each is a request: the list adds no level
    except JsonLimit as exc:
        raise UsageError(f"{what} cannot be sent: {exc}",
                         "Send a flatter request with numbers a 64-bit field can hold.") from None
