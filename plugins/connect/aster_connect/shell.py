"""`aster shell`: the REPL over a live connection: reading lines, running commands, printing.

Its parts: :mod:`.shell_paths` (the path tree ``/services/<Service>/<method>``),
:mod:`.shell_render` (what ``ls`` and ``describe`` show), :mod:`.shell_commands` (the
built-ins' help, :class:`~aster_connect.shell_commands.ShellContext` and the commands
families add through ``aster_shell_commands``) and :mod:`.completion` (Tab).

Manifests on demand: the shell connects with the service list alone (names,
versions, scopes: what admission answers), so ``ls /services`` and the
prompt cost nothing per service. A service's manifest is read when the shell
first needs its methods (``cd`` into it, ``ls``/``describe`` of it, a call, or
Tab completing its methods or fields), through
:func:`aster_connect.registry.load_manifests`, the reader ``aster call`` uses:
the cache under the home first, then the peer's registry document, within
``ASTER_MANIFEST_TIMEOUT``. A manifest that cannot be read is named with its
reason (calls then go out unchecked, as with ``aster call``); it is not taken
for a service without methods.

Input: a terminal gets a prompt_toolkit prompt with history (``<ASTER_HOME>/
shell_history``) and Tab completion; anything else is read line by line, so
the shell can be scripted. With ``--json`` every result, listing and error is
one JSON line on stdout and nothing else is written there. The shell carries
on after a failed command; its exit status is that of the first failure.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any, Callable

from aster_core.errors import AsterError, UsageError
from aster_core.output import print_json, print_json_line, progress

from .arguments import convert, parse_arguments
from .client import connect, run
from .errors import CallError
from .schema import FieldInfo, MethodInfo, ServiceInfo
from .shell_commands import PluginShellCommand, ShellContext, help_data, plugin_commands, run_plugin_command
from .shell_paths import ROOT, SERVICES, call_target, find_service, locate, resolve, service_at, target_service
from .shell_render import description, listing, render_description, render_listing, signature

__all__ = ["Shell", "ShellContext", "run_shell"]


class Shell:
    """One interactive or scripted shell over a live connection."""

    def __init__(self, ctx: ShellContext, *, interactive: bool, plugins: dict[str, PluginShellCommand]):
        self.ctx = ctx
        self.interactive = interactive
        self.plugins = plugins
        self.exit_code = 0
        self._prompt: Any = None
        self._saved_cwd: str | None = None
        #: refs of services whose manifest this shell has tried to read (so Tab does not wait twice)
        self.schema_tried: set[str] = set()

    async def load_schema(self, svc: ServiceInfo | None, *, retry: bool = True) -> bool:
        """Read ``svc``'s manifest if it is not known yet (that service's only); True when it is known.

        ``retry=False`` (Tab completion) does not wait again for a manifest
        already tried in this shell.
        """
        if svc is None or svc.has_schema:
            return True
        if retry or svc.ref not in self.schema_tried:
            from .registry import load_manifests

            self.schema_tried.add(svc.ref)
            await load_manifests(self.ctx.connection, [svc])
        return svc.has_schema

    async def load_path(self, path: str) -> None:
        """Read the manifest of the service ``path`` is in, if any (nothing for /services)."""
        svc = service_at(self.ctx.connection, path)
        if svc is not None and not await self.load_schema(svc):
            from .registry import missing_reason

            self.note(f"Warning: no method schema for {svc.ref}: {missing_reason(self.ctx.connection, svc)}.")

    # output ---------------------------------------------------------------------------------
    def emit(self, data: Any, render: Callable[[Any], str] | None = None) -> None:
        if data is None:
            return
        if self.ctx.as_json:
            print_json_line(data)
        elif render is not None:
            print(render(data), flush=True)
        elif isinstance(data, str):
            print(data, flush=True)
        else:
            print_json(data)

    def note(self, text: str) -> None:
        """A message for people: stdout at a terminal, stderr when scripted or in --json mode."""
        stream = sys.stdout if self.interactive and not self.ctx.as_json else sys.stderr
        print(text, file=stream, flush=True)

    def fail(self, error: AsterError) -> None:
        if not self.exit_code:
            self.exit_code = int(error.exit_code)
        hint = f" Hint: {error.hint}" if error.hint else ""
        print(f"Error: {error.message.rstrip('.')}.{hint}", file=sys.stderr, flush=True)
        if self.ctx.as_json:
            data = error.to_dict() if isinstance(error, CallError) else {"message": error.message, "hint": error.hint}
            print_json_line({"error": {**data, "exit_code": int(error.exit_code)}})

    # dispatch -------------------------------------------------------------------------------
    @property
    def prompt_text(self) -> str:
        where = f"[session {self.ctx.session.service.ref}] " if self.ctx.session else ""
        return f"aster {where}{self.ctx.cwd}> "

    async def execute(self, line: str) -> bool:
        """Run one command line; False when the shell should end."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        if line.startswith("./"):
            word, rest = line[2:].partition(" ")[::2]
            name, args = "./", f"{word} {rest}"
        else:
            name, _, args = line.partition(" ")
        try:
            return await self._dispatch(name, args.strip())
        except AsterError as error:
            self.fail(error)
        except (KeyboardInterrupt, asyncio.CancelledError):
            self.note("Interrupted.")
        except Exception as exc:  # noqa: BLE001 - one bad line never ends the session
            from .wire import transport_error

            error = transport_error(exc) if _is_transport(exc) else \
                AsterError(f"unexpected {type(exc).__name__}: {str(exc)[:200]}",
                           "That line failed; the shell goes on. Run with ASTER_DEBUG=1 and report it.")
            if os.environ.get("ASTER_DEBUG"):
                import traceback

                traceback.print_exc()
            self.fail(error)
        return True

    async def _dispatch(self, name: str, args: str) -> bool:
        ctx = self.ctx
        if name in ("exit", "quit"):
            if ctx.session is not None:
                await self.leave_session()
                return True
            return False
        if name == "help":
            self.emit(help_data(self.plugins, args), None if ctx.as_json else lambda d: d["text"])
        elif name == "pwd":
            self.emit({"path": ctx.cwd} if ctx.as_json else ctx.cwd)
        elif name in ("ls", "describe"):
            path = locate(ctx.connection, ctx.cwd, args or None)
            await self.load_schema(service_at(ctx.connection, path))
            if name == "ls":
                self.emit(listing(ctx.connection, path), render_listing)
            else:
                self.emit(description(ctx.connection, path), render_description)
        elif name == "cd":
            await self.cd(args)
        elif name == "invoke":
            target, _, rest = args.partition(" ")
            if not target:
                raise UsageError("invoke needs a method", "For example: invoke EchoService.echo text=hi.")
            await self.invoke(target, rest)
        elif name == "./":
            target, _, rest = args.partition(" ")
            await self.invoke(target, rest)
        elif name == "session":
            await self.open_session(args)
        elif name in self.plugins:
            self.emit(await run_plugin_command(ctx, self.plugins[name], args))
        else:
            raise UsageError(f"unknown command {name!r}", "Type help for the list of commands.")
        return True

    async def cd(self, args: str) -> None:
        path = locate(self.ctx.connection, self.ctx.cwd, args or SERVICES)
        if path.count("/") > 2:  # names a method: only its schema can tell
            await self.load_schema(service_at(self.ctx.connection, path))
        svc, method = resolve(self.ctx.connection, path)
        if method is not None:
            raise UsageError(f"{path} is a method, not a directory", f"Call it with ./{method.name} or describe it.")
        if self.ctx.session is not None and (svc is None or svc.name != self.ctx.session.service.name):
            raise UsageError("a session subshell stays in its service", "Type exit to leave the session first.")
        self.ctx.cwd = path if svc is None or path == ROOT else f"{SERVICES}/{svc.ref}"
        if svc is not None:
            await self.load_path(self.ctx.cwd)

    async def invoke(self, target: str, args: str) -> None:
        svc = target_service(self.ctx.connection, self.ctx.cwd, target)
        if not await self.load_schema(svc) and "/" not in target:  # a path to a method needs the schema
            from .registry import fallback_note

            self.note(f"Warning: {fallback_note(self.ctx.connection, svc)}")
        svc, method, name = call_target(self.ctx.connection, self.ctx.cwd, target)
        if method is not None and not args.strip() and self.interactive and (method.fields or method.streams_requests):
            request, items = await self.prompt_request(method)
        else:
            value = parse_arguments(method, args)
            streams_in = method.streams_requests if method is not None else isinstance(value, list)
            request, items = (None, _as_items(value)) if streams_in else (value, None)
        timeout = self.ctx.timeout
        session = self.ctx.session
        if session is not None and session.service.name == svc.name and session.service.version == svc.version:
            results = session.invoke(name, request, items=items, timeout=timeout)
        else:
            if svc.is_session and session is None:
                self.note(f"({svc.ref} is session-scoped: this call runs in its own session; "
                          f"use `session {svc.ref}` to keep state between calls)")
            results = self.ctx.connection.invoke(svc.ref, name, request, items=items, timeout=timeout)
        try:
            async for item in results:
                self.emit(item)
        finally:
            if session is not None and session.ended:
                await self.leave_session(note="The server ended the session after that error; it is closed.")

    async def prompt_request(self, method: MethodInfo) -> tuple[Any, Any]:
        """Ask for each field (or, for streamed input, each item) at the terminal."""
        if method.streams_requests:
            items = []
            self.note(f"Items for {method.name} (JSON or key=value), an empty line ends:")
            while True:
                text = await self._ask(f"  item {len(items) + 1}: ")
                if not text.strip():
                    return None, items
                try:
                    items.append(parse_arguments(method, text) or {})
                except UsageError as error:
                    self.note(f"  {error.message}. {error.hint or ''}")
        request: dict[str, Any] = {}
        self.note(f"{method.name}{signature(method)}  (Enter keeps the default)")
        for spec in method.fields:
            while True:
                text = await self._ask(_field_prompt(spec))
                if not text:
                    if spec.required:
                        self.note(f"  {spec.name} is required")
                        continue
                    break
                try:
                    request[spec.name] = convert(spec, text)
                    break
                except UsageError as error:
                    self.note(f"  {error.message}. {error.hint or ''}")
        return request, None

    async def _ask(self, text: str) -> str:
        from prompt_toolkit import PromptSession

        return await PromptSession().prompt_async(text)

    async def open_session(self, args: str) -> None:
        if self.ctx.session is not None:
            raise UsageError("a session is already open", "Type exit to leave it first.")
        if not args:
            raise UsageError("session needs a service", "For example: session CounterSession.")
        svc = find_service(self.ctx.connection, args.split()[0])
        await self.load_schema(svc)
        try:
            session = await asyncio.wait_for(self.ctx.connection.session(svc.ref), self.ctx.timeout)
        except asyncio.TimeoutError:
            from .errors import CallUnavailable

            raise CallUnavailable("UNAVAILABLE", f"no session with {svc.ref} within {self.ctx.timeout:g}s",
                                  "Check that the peer is still running; raise --timeout if it is slow.") from None
        self.ctx.session = session
        self._saved_cwd = self.ctx.cwd
        self.ctx.cwd = f"{SERVICES}/{svc.ref}"
        self.note(f"Session with {svc.ref} open: state lives until exit.")
        if self.ctx.as_json:
            print_json_line({"session": svc.ref, "open": True})

    async def leave_session(self, note: str | None = None) -> None:
        session = self.ctx.session
        if session is None:
            return
        self.ctx.session = None
        self.ctx.cwd = self._saved_cwd or SERVICES
        await session.close()
        self.note(note or f"Session with {session.service.ref} closed.")
        if self.ctx.as_json:
            print_json_line({"session": session.service.ref, "open": False})

    # input loops ----------------------------------------------------------------------------
    async def run_script(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            if not await self.execute(line):
                break
        await self.leave_session()

    async def run_interactive(self) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory

        from aster_core.home import ensure_home

        from .completion import ShellCompleter

        history = FileHistory(str(private_file(ensure_home() / "shell_history")))
        prompt = PromptSession(history=history, completer=ShellCompleter(self), complete_while_typing=False)
        while True:
            try:
                line = await prompt.prompt_async(self.prompt_text)
            except KeyboardInterrupt:
                continue
            except EOFError:
                if self.ctx.session is not None:
                    await self.leave_session()
                    continue
                break
            task = asyncio.ensure_future(self.execute(line))
            if not await _run_interruptibly(task):
                break
        await self.leave_session()


async def _run_interruptibly(task: "asyncio.Future[bool]") -> bool:
    """Await a command; Ctrl-C cancels it (and only it)."""
    import signal

    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, task.cancel)
    except (NotImplementedError, RuntimeError):
        return await task
    try:
        return await task
    except asyncio.CancelledError:
        print("Interrupted.", file=sys.stderr)
        return True
    finally:
        loop.remove_signal_handler(signal.SIGINT)


def _is_transport(exc: BaseException) -> bool:
    """A failure of the connection (the runtime's IrohError, a broken socket), not of our code."""
    return isinstance(exc, (OSError, ConnectionError)) or type(exc).__name__ in ("IrohError", "RpcError")


def private_file(path: Path) -> Path:
    """``path``, created if missing and readable by its owner only (0600), whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    return path


def _as_items(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _field_prompt(spec: FieldInfo) -> str:
    extra = "required" if spec.required else f"default {spec.default!r}"
    return f"  {spec.name} ({spec.type_label}, {extra}): "


async def _main(address: str, rcan: str | None, timeout: float, as_json: bool, air_gapped: bool) -> int:
    with progress(f"Connecting to {address[:24]}..."):
        conn = await connect(address, rcan=rcan, timeout=timeout, schemas=False)  # read on demand
    async with conn:
        ctx = ShellContext(address, conn, as_json, asyncio.get_running_loop(), timeout)
        interactive = sys.stdin.isatty()
        # air-gapped: only the built-in commands, none that a family adds (such as the registry's)
        shell = Shell(ctx, interactive=interactive, plugins={} if air_gapped else plugin_commands())
        gate = " It admits every consumer (open gate)." if conn.open_gate else ""
        shell.note(f"Connected to {address[:24]}...: {len(conn.services)} service(s).{gate}"
                   + (" Type help; Tab completes." if interactive else ""))
        if interactive:
            await shell.run_interactive()
        else:
            await shell.run_script()
        return shell.exit_code


def run_shell(address: str, *, rcan: str | None, timeout: float, as_json: bool, air_gapped: bool = False) -> int:
    """Run the shell until exit or end of input; returns the exit status.

    ``air_gapped``: no registry on the way (an ``@handle/Service`` address is refused) and no
    shell commands from other families."""
    if air_gapped and address.startswith("@"):
        raise UsageError(f"{address} is a registry address, and --air-gapped uses no registry",
                         "give the peer's aster1... ticket, NodeAddr or endpoint id")
    return run(_main(address, rcan, timeout, as_json, air_gapped))
