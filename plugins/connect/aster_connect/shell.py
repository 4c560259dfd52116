"""`aster shell`: a virtual tree of a peer's services, with calls, sessions and completion.

Tree: ``/services/<Service>/<method>`` (``<Service>`` is ``Name`` for the
highest version offered and ``Name@N`` for older ones). The root also holds
``blobs``, ``docs`` and ``gossip``, as the released ``aster-cli`` shell's does
(empty here), so its scripts run unchanged: the shell starts in ``/services``,
where a relative path that names nothing there is read from the root (``cd
services``, ``ls blobs``), and names match case-insensitively when only one
service or method matches that way.

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

Other families add commands through the ``aster_shell_commands`` hook: a
handler ``handler(shell, argv)`` receives the :class:`ShellContext` and the
words after its name, runs in a worker thread (so it may block, and may run
coroutines on the shell's connection with ``shell.run(coro)``), and returns an
object to print (``None`` prints nothing).
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import sys
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from aster_core.errors import AsterError, UsageError
from aster_core.output import print_json, print_json_line, progress

from .arguments import convert, parse_arguments, split_words
from .client import Connection, Session, connect, run
from .errors import CallError
from .schema import FieldInfo, MethodInfo, ServiceInfo

ROOT = "/"
SERVICES = "/services"
#: the released shell's top level: only ``services`` has anything in it here
ROOT_DIRS = ("blobs", "docs", "gossip", "services")

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


# -- the tree -------------------------------------------------------------------------------

def normalise(cwd: str, path: str | None) -> str:
    if not path:
        return cwd
    joined = posixpath.normpath(posixpath.join(cwd, path))
    return "/" if joined in ("/", "//") else joined


def locate(conn: Connection, cwd: str, path: str | None) -> str:
    """The normalised path ``path`` names from ``cwd`` (decided from the service list alone).

    From ``/services`` (where the shell starts), a relative path that names
    nothing there but does from the root is read from the root, so scripts
    written for the released shell (which starts at ``/``) run unchanged.
    """
    here = normalise(cwd, path)
    if not path or path.startswith("/") or cwd != SERVICES:
        return here
    try:
        service_at(conn, here)
        return here
    except AsterError:
        rooted = normalise(ROOT, path)
        try:
            service_at(conn, rooted)
        except AsterError:
            return here  # neither: report the path as typed from here
        return rooted


def _service(conn: Connection, name: str) -> ServiceInfo:
    """``conn.service(name)``, or the one service whose name matches ignoring case."""
    try:
        return conn.service(name)
    except CallError:
        refs = {s.ref for s in conn.services if s.ref.lower() == name.lower()}
        if len(refs) == 1:
            return conn.service(refs.pop())
        base, at, version = name.partition("@")
        names = {s.name for s in conn.services if s.name.lower() == base.lower()}
        if not refs and len(names) == 1:
            return conn.service(names.pop() + at + version)
        raise


def service_at(conn: Connection, path: str) -> ServiceInfo | None:
    """The service a normalised path is in, from the service list alone (no manifest is read).

    ``/``, ``/services`` and the released shell's other top-level directories
    (``/blobs``, ``/docs``, ``/gossip``) are in no service: ``None``. NotFound
    for a path outside the tree or a service the peer does not offer.
    """
    parts = [p for p in path.split("/") if p]
    if not parts or (len(parts) == 1 and parts[0] in ROOT_DIRS):
        return None
    if parts[0] != "services" or len(parts) > 3:
        raise _no_such(path)
    return _service(conn, parts[1])


def resolve(conn: Connection, path: str) -> tuple[ServiceInfo | None, MethodInfo | None]:
    """(service, method) a normalised path names; NotFound for a path outside the tree.

    A method is found in the service's schema, so read its manifest first
    (:meth:`Shell.load_schema`); without one, a path naming a method is an
    error that says why the schema is missing.
    """
    svc = service_at(conn, path)
    parts = [p for p in path.split("/") if p]
    if svc is None or len(parts) == 2:
        return svc, None
    method = _find_method(svc, parts[2])
    if method is None:
        raise schema_unknown(conn, svc)
    return svc, method


def schema_unknown(conn: Connection, svc: ServiceInfo) -> CallError:
    """The error for needing the methods of a service whose manifest could not be read."""
    from .registry import missing_reason

    return CallError("FAILED_PRECONDITION", f"the schema of {svc.ref} is unknown ({missing_reason(conn, svc)})",
                     "Retry once the peer has published its manifest (ASTER_MANIFEST_TIMEOUT allows more time); "
                     "calls still work: ./METHOD {json} is sent unchecked.")


def _find_method(svc: ServiceInfo, name: str) -> MethodInfo | None:
    """``svc.method(name)``, or the one method whose name matches ignoring case."""
    try:
        return svc.method(name)
    except CallError:
        folded = [m for m in (svc.methods or {}) if m.lower() == name.lower()]
        if len(folded) == 1:
            return svc.method(folded[0])
        raise


def _no_such(path: str) -> AsterError:
    from aster_core.errors import NotFoundError

    return NotFoundError(f"no such path: {path}", "Paths look like /services/<Service>/<method>; try ls.")


def signature(method: MethodInfo) -> str:
    args = ", ".join(f"{f.name}: {f.type_label}" for f in method.fields)
    ret = method.response_type or "?"
    if method.streams_requests:
        args = f"stream {method.request_type or '?'}({args})"
    if method.streams_responses:
        ret = f"stream {ret}"
    return f"({args}) -> {ret}"


def _service_entry(svc: ServiceInfo) -> dict:
    return {"name": svc.ref, "type": "service", "service": svc.name, "version": svc.version, "scoped": svc.scoped,
            "methods": None if svc.methods is None else len(svc.methods)}


def _method_entry(method: MethodInfo) -> dict:
    return {"name": method.name, "type": "method", "pattern": method.pattern, "signature": signature(method)}


def listing(conn: Connection, path: str) -> dict:
    svc, method = resolve(conn, path)
    if path == ROOT:
        entries = [{"name": name, "type": "dir"} for name in ROOT_DIRS]
    elif svc is None and path != SERVICES:
        entries = []  # /blobs, /docs, /gossip: the released shell's, nothing in them here
    elif svc is None:
        entries = [_service_entry(s) for s in conn.services]
    elif svc.methods is None:
        raise schema_unknown(conn, svc)
    elif method is None:
        entries = [_method_entry(m) for m in svc.methods.values()]
    else:
        entries = [_method_entry(method)]
    return {"path": path, "entries": entries}


def description(conn: Connection, path: str) -> dict:
    svc, method = resolve(conn, path)
    if svc is None:
        services = conn.services if path in (ROOT, SERVICES) else []
        return {"path": path, "services": [_service_entry(s) for s in services]}
    if method is None:
        data = {"path": path, **svc.to_dict()}
        if svc.methods is not None:
            data["methods"] = [{**m.to_dict(), "signature": signature(m)} for m in svc.methods.values()]
        else:
            from .registry import missing_reason

            data["schema_missing"] = missing_reason(conn, svc)
        return data
    return {"path": path, "service": svc.ref, "version": svc.version, "scoped": svc.scoped, **method.to_dict(),
            "signature": signature(method)}


def render_listing(data: dict) -> str:
    lines = []
    for e in data["entries"]:
        if e["type"] == "dir":
            lines.append(f"{e['name']}/")
        elif e["type"] == "service":
            count = "?" if e["methods"] is None else e["methods"]
            lines.append(f"{e['name'] + '/':<28} v{e['version']:<3} {e['scoped']:<8} {count} methods")
        else:
            lines.append(f"{e['name']:<20} {e['pattern']:<14} {e['signature']}")
    return "\n".join(lines) if lines else "(empty)"


def _field_line(f: dict, width: int = 16) -> str:
    req = "required" if f["required"] else f"default {f['default']!r}"
    return f"    {f['name']:<16} {f['type']:<{width}} {req}"


def _field_lines(fields: list[dict]) -> list[str]:
    width = max([16, *(len(f["type"]) for f in fields)])
    return [_field_line(f, width) for f in fields] or ["    (no fields)"]


def render_description(data: dict) -> str:
    if "signature" in data:
        lines = [f"{data['service']}.{data['name']}  {data['pattern']}  {data['signature']}",
                 f"  request {data['request_type'] or '?'}:"]
        lines += _field_lines(data["fields"])
        lines.append(f"  response {data['response_type'] or '?'}:")
        lines += _field_lines(data["response_fields"])
        return "\n".join(lines)
    if "methods" in data and "ref" in data:
        lines = [f"{data['ref']}  v{data['version']}  {data['scoped']}  contract {data['contract_id'][:16]}"]
        for m in data["methods"] or []:
            lines.append(f"  {m['name']:<20} {m['pattern']:<14} {m['signature']}")
        if data["methods"] is None:
            lines.append(f"  (schema unknown: {data.get('schema_missing') or 'its manifest was not read'})")
        return "\n".join(lines)
    return render_listing({"entries": data["services"]})


# -- the shell ----------------------------------------------------------------------------

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
            self.emit(self.help(args), None if ctx.as_json else lambda d: d["text"])
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
            await self.run_plugin(self.plugins[name], args)
        else:
            raise UsageError(f"unknown command {name!r}", "Type help for the list of commands.")
        return True

    def help(self, topic: str) -> dict:
        commands = dict(BUILTIN_HELP)
        commands.update({p.name: f"{p.name}: {p.help} (from {p.distribution})" for p in self.plugins.values()})
        if topic:
            key = "./" if topic.startswith("./") else topic
            if key not in commands:
                raise UsageError(f"no help for {topic!r}", "Type help for the list of commands.")
            return {"commands": {key: commands[key]}, "text": commands[key]}
        text = "\n".join(f"  {v}" for v in commands.values()) + "\n" + ARGS_HELP
        return {"commands": commands, "arguments": ARGS_HELP, "text": text}

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

    def target_service(self, target: str) -> ServiceInfo | None:
        """The service a call target (``method``, ``Service.method`` or a path) is in; reads no manifest."""
        conn = self.ctx.connection
        if "/" in target:
            return service_at(conn, locate(conn, self.ctx.cwd, target))
        if "." in target:
            return _service(conn, target.rpartition(".")[0])
        return service_at(conn, self.ctx.cwd)

    def _target(self, target: str) -> tuple[ServiceInfo, MethodInfo | None, str]:
        conn = self.ctx.connection
        if "/" in target:
            svc, method = resolve(conn, locate(conn, self.ctx.cwd, target))
            if svc is None or method is None:
                raise UsageError(f"{target} is not a method", "Name a method: ./method or /services/S/method.")
            return svc, method, method.name
        if "." in target:
            service, _, name = target.rpartition(".")
            svc = _service(conn, service)
        else:
            svc, _ = resolve(conn, self.ctx.cwd)
            name = target
        if svc is None:
            raise UsageError(f"not inside a service: {target!r} is ambiguous",
                             "cd into a service first, or write Service.method.")
        method = _find_method(svc, name)
        return svc, method, method.name if method is not None else name

    async def invoke(self, target: str, args: str) -> None:
        svc = self.target_service(target)
        if not await self.load_schema(svc) and "/" not in target:  # a path to a method needs the schema
            from .registry import fallback_note

            self.note(f"Warning: {fallback_note(self.ctx.connection, svc)}")
        svc, method, name = self._target(target)
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
        svc = _service(self.ctx.connection, args.split()[0])
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

    async def run_plugin(self, command: PluginShellCommand, args: str) -> None:
        from aster_core.loading import load_target

        try:
            handler = load_target(command.target)
        except Exception as exc:
            raise AsterError(f"shell command {command.name!r} from {command.distribution} failed to load: {exc}",
                             f"Reinstall or remove {command.distribution}.") from None
        try:
            result = await asyncio.to_thread(handler, self.ctx, split_words(args))
            if asyncio.iscoroutine(result):
                result = await result
        except AsterError:
            raise
        except Exception as exc:
            raise AsterError(f"shell command {command.name!r} from {command.distribution} failed: "
                             f"{type(exc).__name__}: {exc}", "Report it to the family's authors.") from None
        self.emit(result)

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


async def _main(address: str, rcan: str | None, timeout: float, as_json: bool) -> int:
    with progress(f"Connecting to {address[:24]}..."):
        conn = await connect(address, rcan=rcan, timeout=timeout, schemas=False)  # read on demand
    async with conn:
        ctx = ShellContext(address, conn, as_json, asyncio.get_running_loop(), timeout)
        interactive = sys.stdin.isatty()
        shell = Shell(ctx, interactive=interactive, plugins=plugin_commands())
        gate = " It admits every consumer (open gate)." if conn.open_gate else ""
        shell.note(f"Connected to {address[:24]}...: {len(conn.services)} service(s).{gate}"
                   + (" Type help; Tab completes." if interactive else ""))
        if interactive:
            await shell.run_interactive()
        else:
            await shell.run_script()
        return shell.exit_code


def run_shell(address: str, *, rcan: str | None, timeout: float, as_json: bool) -> int:
    """Run the shell until exit or end of input; returns the exit status."""
    return run(_main(address, rcan, timeout, as_json))

