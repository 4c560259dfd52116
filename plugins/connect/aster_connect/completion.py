"""Tab completion for `aster shell`: commands, paths, services, methods and field names.

Completing a service's methods or fields reads that service's manifest first
(once per shell: :meth:`Shell.load_schema` with ``retry=False``); a manifest that
cannot be read is named above the prompt with its reason, rather than offering
nothing without a word. Completing services needs no manifest.
"""

from __future__ import annotations

from typing import AsyncGenerator, Iterable, Protocol

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from aster_core.errors import AsterError

from .schema import ServiceInfo
from .shell_commands import BUILTIN_HELP, PluginShellCommand, ShellContext
from .shell_paths import SERVICES, call_target, normalise, resolve, service_at, target_service

PATH_COMMANDS = ("cd", "ls", "describe")


class CompletedShell(Protocol):
    """What completion needs of the running shell (``aster_connect.shell.Shell`` is one)."""

    ctx: ShellContext
    plugins: dict[str, PluginShellCommand]

    async def load_schema(self, svc: ServiceInfo | None, *, retry: bool = True) -> bool: ...


class ShellCompleter(Completer):
    def __init__(self, shell: CompletedShell):
        self.shell = shell

    # what exists ------------------------------------------------------------------------------
    def _children(self, directory: str) -> list[str]:
        """Names under a directory path, directories with a trailing slash."""
        conn = self.shell.ctx.connection
        try:
            svc, method = resolve(conn, directory)
        except AsterError:
            return []
        if method is not None:
            return []
        if directory == "/":
            return ["services/"]
        if svc is None:
            return [f"{s.ref}/" for s in conn.services]
        return sorted(svc.methods or {})

    # manifests it needs ---------------------------------------------------------------------
    def _needed(self, document: Document) -> ServiceInfo | None:
        """The service whose methods the completion at ``document`` lists, if any."""
        shell = self.shell
        words = document.text_before_cursor.split(" ")
        command, current = words[0], words[-1]
        try:
            if len(words) == 1:
                return service_at(shell.ctx.connection, shell.ctx.cwd) if current.startswith(".") else None
            if command in PATH_COMMANDS and len(words) == 2:
                head = current.rpartition("/")[0]
                base = normalise(shell.ctx.cwd, (head or "/") if current.startswith("/") or head else ".")
                return None if command == "cd" else service_at(shell.ctx.connection, base)
            if command == "invoke" and len(words) == 2:
                return target_service(shell.ctx.connection, shell.ctx.cwd, current) if "." in current else \
                    service_at(shell.ctx.connection, shell.ctx.cwd)
            if command == "invoke" or command.startswith("./"):
                return target_service(shell.ctx.connection, shell.ctx.cwd,
                                      words[1] if command == "invoke" else command[2:])
        except AsterError:
            return None
        return None

    async def get_completions_async(self, document: Document,
                                    complete_event: CompleteEvent) -> AsyncGenerator[Completion, None]:
        svc = self._needed(document)
        if svc is not None and not await self.shell.load_schema(svc, retry=False):
            from prompt_toolkit.application import run_in_terminal

            from .registry import missing_reason

            why = missing_reason(self.shell.ctx.connection, svc)
            await run_in_terminal(lambda: print(f"(no completions: the schema of {svc.ref} is unknown: {why})"))
        for completion in self.get_completions(document, complete_event):
            yield completion

    def _current_methods(self) -> list[str]:
        return [name for name in self._children(self.shell.ctx.cwd) if not name.endswith("/")] \
            if self.shell.ctx.cwd.startswith(SERVICES + "/") else []

    # completions ------------------------------------------------------------------------------
    def get_completions(self, document: Document, complete_event) -> Iterable[Completion]:
        text = document.text_before_cursor
        words = text.split(" ")
        if len(words) == 1:
            yield from self._commands(words[0])
            return
        command, current = words[0], words[-1]
        if command in PATH_COMMANDS and len(words) == 2:
            yield from self._paths(current, dirs_only=command == "cd")
        elif command == "session" and len(words) == 2:
            refs = [s.ref for s in self.shell.ctx.services if s.is_session]
            yield from _matching(current, refs)
        elif command == "invoke" and len(words) == 2:
            yield from _matching(current, self._current_methods() + self._service_methods(current))
        elif command == "invoke" or command.startswith("./"):
            target = words[1] if command == "invoke" else command[2:]
            yield from self._fields(target, current, words[2:-1] if command == "invoke" else words[1:-1])

    def _service_methods(self, current: str) -> list[str]:
        """``Service.`` for every service, then ``Service.method`` once a known service is typed."""
        candidates = [f"{s.ref}." for s in self.shell.ctx.services]
        if "." in current:
            try:
                svc = target_service(self.shell.ctx.connection, self.shell.ctx.cwd, current)
            except AsterError:
                return candidates
            if svc is not None:
                candidates += [f"{svc.ref}.{m}" for m in sorted(svc.methods or {})]
        return candidates

    def _commands(self, current: str) -> Iterable[Completion]:
        names = [n for n in BUILTIN_HELP if n != "./"] + list(self.shell.plugins)
        yield from _matching(current, names)
        if current.startswith("."):
            yield from _matching(current, [f"./{m}" for m in self._current_methods()])

    def _paths(self, current: str, *, dirs_only: bool) -> Iterable[Completion]:
        head, _, tail = current.rpartition("/")
        base = normalise(self.shell.ctx.cwd, (head or "/") if current.startswith("/") or head else ".")
        prefix = f"{head}/" if head or current.startswith("/") else ""
        for name in self._children(base):
            if dirs_only and not name.endswith("/"):
                continue
            if name.startswith(tail):
                yield Completion(prefix + name, start_position=-len(current), display=name)
        if not head and ".." .startswith(tail) and tail and self.shell.ctx.cwd != "/":
            yield Completion("../", start_position=-len(current))

    def _fields(self, target: str, current: str, previous: list[str]) -> Iterable[Completion]:
        try:
            method = call_target(self.shell.ctx.connection, self.shell.ctx.cwd, target)[1]
        except AsterError:
            return
        if method is None or "=" in current:
            return
        used = {w.partition("=")[0] for w in previous}
        names = [f"{f.name}=" for f in method.fields if f.name not in used]
        yield from _matching(current, names)


def _matching(current: str, candidates: Iterable[str]) -> Iterable[Completion]:
    for name in candidates:
        if name.startswith(current):
            yield Completion(name, start_position=-len(current))
