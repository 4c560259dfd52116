"""The commands of `aster shell`: the built-ins' help, and the commands families add.

Other families add commands through the ``aster_shell_commands`` hook
(``ShellCommand(name, help, "module:handler")``): the handler
``handler(shell, argv)`` receives the :class:`ShellContext` and the words after
its name, runs in a worker thread (so it may block, and may run coroutines on
the shell's connection with ``shell.run(coro)``), and returns an object to print
(``None`` prints nothing). Built-in names win; a clashing command is ignored with
a warning.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from typing import Any, Awaitable

from aster_core.errors import AsterError, UsageError

from .arguments import split_words
from .connection import Connection, Session
from .schema import ServiceInfo
from .shell_paths import SERVICES

BUILTIN_HELP: dict[str, str] = {
    "ls": "ls [PATH]: list services, or the methods of a service",
    "cd": "cd [PATH]: move in the tree (/services/<Service>); `cd ..` goes up",
    "pwd": "pwd: print the current path",
    "describe": "describe [PATH]: a service's methods, or a method's fields and response",
    "invoke": "invoke METHOD|Service.method|PATH [ARGS]: call a method",
    "./": "./METHOD [ARGS]: call a method of the current service",
    "session": "session SERVICE: open a subshell holding a session with a session-scoped service",
    "help": "help [COMMAND]: this list, or one command's help",
    "exit": "exit: leave the session subshell, or the shell",
}
ARGS_HELP = ("ARGS: JSON ({\"text\": \"hi\"}), key=value words (text=\"hi there\" inner.n=2), or plain words "
             "filling the fields in order. With no ARGS in a terminal, each field is prompted for.")


@dataclass(frozen=True)
class PluginShellCommand:
    name: str
    help: str
    target: str
    distribution: str


class ShellContext:
    """What a shell command (built-in or from another family) can see and use.

    - ``address``: the address as the user typed it;
    - ``cwd``: the current virtual path, e.g. ``/services/EchoService``;
    - ``as_json``: True when output must be JSON lines only;
    - ``services``: the peer's :class:`~aster_connect.schema.ServiceInfo` list;
    - ``connection``: the live :class:`~aster_connect.client.Connection`;
    - ``session``: the open :class:`~aster_connect.client.Session` in a
      session subshell, else ``None``;
    - ``timeout``: seconds allowed for each call;
    - ``run(coro)``: run a coroutine on the shell's event loop and return its
      result (from a command handler, which runs in a worker thread).
    """

    def __init__(self, address: str, connection: Connection, as_json: bool, loop: asyncio.AbstractEventLoop,
                 timeout: float | None = None):
        self.address = address
        self.timeout = timeout
        self.connection = connection
        self.as_json = as_json
        self.cwd = SERVICES
        self.session: Session | None = None
        self._loop = loop

    @property
    def services(self) -> list[ServiceInfo]:
        return self.connection.services

    def run(self, coro: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()  # type: ignore[arg-type]


def plugin_commands() -> dict[str, PluginShellCommand]:
    """Shell commands other families contribute (built-in names win, with a warning)."""
    from aster_core.host import get_host

    found: dict[str, PluginShellCommand] = {}
    for distribution, item in get_host().collect("aster_shell_commands"):
        name = getattr(item, "name", None)
        if not name or name in BUILTIN_HELP or name in ("quit",) or name in found:
            owner = "a built-in" if name in BUILTIN_HELP or name == "quit" else found[name].distribution \
                if name in found else "nobody"
            print(f"Warning: shell command {name!r} from {distribution} is ignored: the name belongs to {owner}.",
                  file=sys.stderr)
            continue
        found[name] = PluginShellCommand(name, item.help, item.target, distribution)
    return found


def help_data(plugins: dict[str, PluginShellCommand], topic: str) -> dict:
    """What ``help [COMMAND]`` shows: every command (or ``topic``'s), with ``text`` for people."""
    commands = dict(BUILTIN_HELP)
    commands.update({p.name: f"{p.name}: {p.help} (from {p.distribution})" for p in plugins.values()})
    if topic:
        key = "./" if topic.startswith("./") else topic
        if key not in commands:
            raise UsageError(f"no help for {topic!r}", "Type help for the list of commands.")
        return {"commands": {key: commands[key]}, "text": commands[key]}
    text = "\n".join(f"  {v}" for v in commands.values()) + "\n" + ARGS_HELP
    return {"commands": commands, "arguments": ARGS_HELP, "text": text}


async def run_plugin_command(ctx: ShellContext, command: PluginShellCommand, args: str) -> Any:
    """Run a family's command in a worker thread; what it returns (any failure is an AsterError)."""
    from aster_core.loading import load_target

    try:
        handler = load_target(command.target)
    except Exception as exc:
        raise AsterError(f"shell command {command.name!r} from {command.distribution} failed to load: {exc}",
                         f"Reinstall or remove {command.distribution}.") from None
    try:
        result = await asyncio.to_thread(handler, ctx, split_words(args))
        if asyncio.iscoroutine(result):
            result = await result
    except AsterError:
        raise
    except Exception as exc:
        raise AsterError(f"shell command {command.name!r} from {command.distribution} failed: "
                         f"{type(exc).__name__}: {exc}", "Report it to the family's authors.") from None
    return result
