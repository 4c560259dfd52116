"""`hello` inside `aster shell`: how a family adds a shell command.

The host finds it through the ``aster_shell_commands`` hook (see plugin.py) and
imports this module only when the command is first typed. The handler gets the
running shell's context (``shell.address``, ``shell.cwd``, ``shell.as_json``,
``shell.services``) and the words typed after the command name; what it returns
is printed (as one JSON line under ``aster shell --json``).
"""

from __future__ import annotations

from typing import Any

from .cli import greet


def hello(shell: Any, argv: list[str]) -> dict[str, Any]:
    """Greet NAME (default: the service the shell is in, else the peer)."""
    here = shell.cwd.rstrip("/").rsplit("/", 1)[-1]
    name = " ".join(argv) or (here if shell.cwd.count("/") >= 2 else "peer")
    reply = greet(name)
    reply.update({"cwd": shell.cwd, "services": [s.name for s in shell.services]})
    return reply
