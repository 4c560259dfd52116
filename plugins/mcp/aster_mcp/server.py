"""The MCP server: tools/list and tools/call on the official SDK's low-level Server.

Start-up is ordered for a fast first ``tools/list``: on stdio, ``aster mcp``
first claims the protocol's descriptors and answers ``initialize`` itself,
before the SDK is imported (:mod:`aster_mcp.handshake`); the event loop dials
the Aster peer and reads its manifests, and ``tools/list`` is answered from
them, still without the SDK (:mod:`aster_mcp.listing`), while the SDK is
imported in a thread (:mod:`aster_mcp.sdkimport`); the SDK then takes over the
session (every line replayed into it). Nothing but the protocol reads stdin
or writes stdout (the runtime and our logs write to stderr). Over HTTP the SDK
serves everything. When manifests arrive late the catalogue
grows and every client is told with ``notifications/tools/list_changed``
(handshake-era sessions directly, 2026-07-28 clients on their
``subscriptions/listen`` stream).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from dataclasses import dataclass, field
from typing import Any, Hashable

from . import __version__
from .arguments import ArgumentError, CallPlan, plan_call
from .catalog import Filters, ToolSpec
from .confirm import Refusal, confirm
from .handshake import INSTRUCTIONS, SERVER_NAME, EarlyStdio
from .listing import tool_wire
from .peer import PeerLink, SessionPool
from .results import collect, to_jsonable
from .schema import BIDI_STREAM, SERVER_STREAM
from .sdkimport import sdk_imported, start_sdk_import

log = logging.getLogger("aster_mcp")

#: Deadline of a call that returns one response, when the method declares none.
DEFAULT_CALL_TIMEOUT = 60.0
#: Idle Aster sessions of HTTP MCP sessions are closed after this long.
HTTP_SESSION_IDLE = 30 * 60.0
STDIO_SESSION = "stdio"


@dataclass(frozen=True)
class Options:
    """What ``aster mcp`` was asked to do (see :mod:`aster_mcp.cli`)."""

    address: str
    rcan: str | None = None
    filters: Filters = field(default_factory=Filters)
    transport: str = "stdio"          # stdio | http
    host: str = "127.0.0.1"
    port: int = 8765
    connect_timeout: float = 10.0


def _status_code(status: str) -> int:
    from aster_connect.errors import STATUS_CODES

    return STATUS_CODES.get(status, 2)


def error_payload(status: str, message: str, hint: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"status": status, "code": _status_code(status), "message": message}
    if hint:
        error["hint"] = hint
    return {"error": error}


def error_structure(tool: ToolSpec, payload: dict[str, Any]) -> dict[str, Any] | None:
    """The ``structuredContent`` of an error result: one that satisfies the tool's ``outputSchema``.

    Clients validate it even when ``isError`` is true (the TypeScript SDK, and
    so both MCP Inspectors, show "Structured content does not match the tool's
    output schema" instead of the message). A stream tool's error is its
    collected stream, empty, ``stopped: "error"``, with the error beside it (see
    :func:`aster_mcp.schema.output_schema`); a unary tool's response schema is
    open, so ``{"error": ...}`` fits it unless the response has a field called
    ``error`` of its own: then there is no structured content, only the text.
    """
    if tool.pattern in (SERVER_STREAM, BIDI_STREAM):
        return {"items": [], "count": 0, "complete": False, "stopped": "error", **payload}
    if "error" in (tool.output_schema.get("properties") or {}):
        return None
    return payload


class Bridge:
    """Runs one tool call against the peer and shapes its result."""

    def __init__(self, link: PeerLink, sessions: SessionPool) -> None:
        self.link = link
        self.sessions = sessions

    async def run(self, tool: ToolSpec, plan: CallPlan, session_key: Hashable | None) -> Any:
        """The call's JSON result; raises ``aster_connect`` CallErrors as they come.

        Only a failed transport (UNAVAILABLE: aster_connect maps every failure of
        the connection itself to it) gives the link up; the next call dials again,
        which costs one admission (~35 ms on loopback) and every MCP session's
        Aster session. A cancelled call (the agent gave up on it) and any other
        error end that call alone: the connection and the sessions on it stay.
        """
        from aster_connect.errors import CallError

        conn = await self.link.connection()
        try:
            return await self._run(conn, tool, plan, session_key)
        except CallError as exc:
            if exc.status == "UNAVAILABLE":
                await self.link.broken(conn)
            raise

    async def _run(self, conn: Any, tool: ToolSpec, plan: CallPlan, session_key: Hashable | None) -> Any:
        streams_out = tool.pattern in (SERVER_STREAM, BIDI_STREAM)
        timeout = None if streams_out else (tool.method.get("timeout") or DEFAULT_CALL_TIMEOUT)
        if tool.scoped == "session" and session_key is not None:
            session = await self.sessions.get(session_key, tool.target, conn)
            source = session.invoke(tool.method_name, plan.request, items=plan.items, timeout=timeout)
        else:
            source = conn.invoke(tool.target, tool.method_name, plan.request, items=plan.items, timeout=timeout)
        if streams_out:
            return (await collect(source, max_items=plan.max_items, timeout=plan.timeout)).to_dict()
        responses = [to_jsonable(r) async for r in source]
        return responses[0] if len(responses) == 1 else {"items": responses}


def session_key(ctx: Any) -> Hashable | None:
    """The MCP session a request belongs to: the process on stdio, ``Mcp-Session-Id`` on HTTP.

    ``None`` for a stateless request (HTTP under protocol 2026-07-28, which has
    no sessions): a session-scoped call then gets a session of its own.
    """
    request = getattr(ctx, "request", None)
    if request is None:
        return STDIO_SESSION
    headers = getattr(request, "headers", None)
    value = headers.get("mcp-session-id") if headers is not None else None
    return ("http", value) if value else None


def _text(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(", ", ": "))


def build_server(link: PeerLink, sessions: SessionPool) -> Any:
    """The SDK ``Server`` with our two handlers (and ``subscriptions/listen``)."""
    import mcp_types as types
    from mcp.server.lowlevel import Server
    from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ToolsListChanged
    from mcp.shared.exceptions import MCPError

    bridge = Bridge(link, sessions)
    bus = InMemorySubscriptionBus()
    #: one session object per client connection that asked for tools, to tell when the list grows
    #: (the SDK makes a session object per request, so weak references would vanish; a client that
    #: went away fails the send and is dropped then)
    listeners: dict[int, Any] = {}

    def remember(ctx: Any) -> None:
        session = getattr(ctx, "session", None)
        if session is not None and hasattr(session, "send_tool_list_changed"):
            connection = getattr(session, "_connection", session)
            if id(connection) not in listeners and len(listeners) >= 256:
                listeners.pop(next(iter(listeners)))
            listeners[id(connection)] = session

    async def tools_changed() -> None:
        await bus.publish(ToolsListChanged())
        for key, session in list(listeners.items()):
            try:
                await session.send_tool_list_changed()
            except Exception as exc:  # noqa: BLE001 - that client is gone or speaks the modern wire
                log.info("could not send tools/list_changed: %s: %s", type(exc).__name__, exc)
                listeners.pop(key, None)

    link.on_change(tools_changed)

    def tool_error(tool: ToolSpec, status: str, message: str, hint: str | None = None) -> Any:
        payload = error_payload(status, message, hint)
        text = f"{status} ({payload['error']['code']}): {message}" + (f"\nHint: {hint}" if hint else "")
        return types.CallToolResult(content=[types.TextContent(text=text)],
                                    structured_content=error_structure(tool, payload), is_error=True)

    async def catalog_or_error() -> Any:
        try:
            return await link.catalog()
        except Exception as exc:  # noqa: BLE001 - reported to the client, the server keeps running
            hint = getattr(exc, "hint", None)
            message = f"cannot reach the Aster peer {link.address[:24]}...: {getattr(exc, 'message', exc)}"
            raise MCPError(code=types.INTERNAL_ERROR, message=message + (f" ({hint})" if hint else "")) from None

    async def list_tools(ctx: Any, params: Any) -> Any:
        remember(ctx)
        catalog = await catalog_or_error()
        return types.ListToolsResult(tools=[types.Tool.model_validate(tool_wire(t), by_name=False)
                                            for t in catalog.tools.values()])

    async def call_tool(ctx: Any, params: Any) -> Any:
        catalog = await catalog_or_error()
        tool = catalog.tools.get(params.name)
        if tool is None:
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {params.name}")
        try:
            plan = plan_call(tool.method, params.arguments, tool.types)
        except ArgumentError as exc:
            return tool_error(tool, "INVALID_ARGUMENT", f"{tool.name}: {exc}")
        if tool.confirm:
            decision = await confirm(ctx, params, tool.name)
            if isinstance(decision, Refusal):
                return tool_error(tool, decision.status, decision.message)
            if decision is not None:
                return decision  # input_required: the client asks and retries
        from aster_connect.errors import CallError

        try:
            result = await bridge.run(tool, plan, session_key(ctx))
        except CallError as exc:
            return tool_error(tool, exc.status, exc.detail, exc.hint)
        except Exception as exc:  # noqa: BLE001 - one failed call must not take the server down
            log.exception("%s failed", tool.name)
            return tool_error(tool, "INTERNAL", f"{tool.name} failed: {type(exc).__name__}: {exc}")
        return types.CallToolResult(content=[types.TextContent(text=_text(result))], structured_content=result)

    return Server(SERVER_NAME, version=__version__, instructions=INSTRUCTIONS,
                  on_list_tools=list_tools, on_call_tool=call_tool,
                  on_subscriptions_listen=ListenHandler(bus))


def initialization_options(server: Any) -> Any:
    """Initialization options announcing ``tools.listChanged`` (the catalogue can grow)."""
    from mcp.server.lowlevel.server import NotificationOptions

    return server.create_initialization_options(NotificationOptions(tools_changed=True))


async def serve(options: Options, stdio: EarlyStdio | None = None) -> None:
    """Serve until the client goes away (stdio) or the process is stopped (http).

    ``stdio``: the protocol's stdio as claimed at start-up (claimed here when not given).
    """
    link = PeerLink(options.address, rcan=options.rcan, filters=options.filters,
                    connect_timeout=options.connect_timeout)
    sessions = SessionPool(idle_timeout=HTTP_SESSION_IDLE if options.transport == "http" else None)
    try:
        if options.transport == "http":
            await _serve_http(options, link, sessions)
        else:
            await _serve_stdio(link, sessions, stdio or EarlyStdio())
    finally:
        await sessions.close()
        await link.close()


async def _serve_stdio(link: PeerLink, sessions: SessionPool, stdio: EarlyStdio) -> None:
    from .listing import answer_until_sdk

    link.start()  # dial and read manifests; tools/list is answered from them before the SDK is imported
    await answer_until_sdk(stdio, link)
    from .stdio import answering_stdio_server

    async with answering_stdio_server(stdio) as (read_stream, write_stream):
        server = build_server(link, sessions)
        await server.run(read_stream, write_stream, initialization_options(server))


async def _serve_http(options: Options, link: PeerLink, sessions: SessionPool) -> None:
    import uvicorn

    sock = _bind(options.host, options.port)
    link.start()
    start_sdk_import()
    await sdk_imported()
    server = build_server(link, sessions)
    app = server.streamable_http_app(host=options.host)
    web = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    web.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # asyncio.run handles Ctrl-C

    async def announce() -> None:
        while not web.started:
            await asyncio.sleep(0.01)
        host, port = sock.getsockname()[:2]
        host = f"[{host}]" if ":" in host else host
        print(f"aster mcp: serving MCP over streamable HTTP at http://{host}:{port}/mcp",
              file=sys.stderr, flush=True)

    watcher = asyncio.ensure_future(announce())
    try:
        await web.serve(sockets=[sock])
    finally:
        watcher.cancel()
        sock.close()


def _bind(host: str, port: int) -> Any:
    """The listening socket, bound here so a taken port is our error, not uvicorn's exit."""
    import socket

    from aster_core.errors import UsageError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                         "Choose another --port (0 picks a free one) or stop what is using it.") from None
    return sock
