"""``aster mcp ADDRESS``: serve a peer's services as MCP tools, or ``--list`` them."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click
from aster_connect.cli import SECONDS
from aster_core.errors import UsageError
from aster_core.output import json_option

from .catalog import Catalog, Filters


def list_catalog(address: str, *, rcan: str | None = None, filters: Filters = Filters(),
                 timeout: float = 10.0) -> Catalog:
    """Connect, build the tool catalog an agent would see, disconnect (no MCP server)."""
    async def run() -> Catalog:
        from aster_connect.client import connect

        from .catalog import build_catalog

        conn = await connect(address, rcan=rcan, timeout=timeout, schemas=False)
        try:
            await conn.load_schemas()  # all of them: --list also says why each method is left out
            return build_catalog(conn.services, filters, conn.schema_missing)
        finally:
            await conn.close()

    from aster_connect.client import run as run_loop

    return run_loop(run())


def _render(data: dict[str, Any]) -> None:
    from aster_core.output import info, print_table

    if not sys.stdout.isatty():
        _render_plain(data)
        return

    rows = [(t["name"], t["target"], t["pattern"], t["scoped"], "yes" if t["confirm"] else "") for t in data["tools"]]
    print_table(["tool", "calls", "pattern", "scope", "confirm"], rows,
                title=f"{len(rows)} tool(s) an agent will see")
    if data["omitted"]:
        print_table(["left out", "pattern", "why"], [(o["name"], o["pattern"] or "", o["reason"])
                                                     for o in data["omitted"]])
    info("Input and output schemas: add --json.")


def _render_plain(data: dict[str, Any]) -> None:
    """The table for a pipe or file: tab-separated lines, nothing cut at any width."""
    click.echo(f"# {len(data['tools'])} tool(s) an agent will see")
    click.echo("tool\tcalls\tpattern\tscope\tconfirm")
    for t in data["tools"]:
        click.echo("\t".join([t["name"], t["target"], t["pattern"], t["scoped"], "yes" if t["confirm"] else ""]))
    if data["omitted"]:
        click.echo("# left out")
        click.echo("left out\tpattern\twhy")
        for o in data["omitted"]:
            click.echo("\t".join([o["name"], o["pattern"] or "", o["reason"]]))
    click.echo("Input and output schemas: add --json.", err=True)


def _check_inputs(address: str, rcan: str | None, transport: str, port: int) -> None:
    """Fail before serving: once stdio serves, errors can only go to the log."""
    from aster_connect.addresses import resolve_address
    from aster_connect.credentials import check_files, credential_kind

    addr = resolve_address(address)
    # every credential file the dial will read, checked now (a corrupt one is bad input, exit 2)
    kind = credential_kind(Path(rcan).expanduser()) if rcan is not None else None
    check_files(identity=rcan if kind == "identity" else addr.identity_file, peer=addr.peer,
                credential_file=rcan if kind == "json" else None)
    if transport == "http" and not 0 <= port <= 65535:
        raise UsageError(f"invalid --port {port}", "Use 0 (any free port) to 65535.")


def _setup_logging() -> None:
    logger = logging.getLogger("aster_mcp")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("aster mcp: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


@click.command("mcp")
@click.argument("address")
@click.option("--rcan", metavar="FILE", help="Consumer credential to present (credential JSON or .aster-identity).")
@click.option("--allow", "allow", multiple=True, metavar="GLOB",
              help="Offer only tools matching one of these globs (e.g. 'Billing.*'). Repeatable.")
@click.option("--deny", "deny", multiple=True, metavar="GLOB",
              help="Hide tools matching this glob; wins over --allow. Repeatable.")
@click.option("--confirm", "confirm", multiple=True, metavar="GLOB",
              help="Ask the user (through the MCP client) before each call of matching tools. Repeatable.")
@click.option("--transport", type=click.Choice(["stdio", "http"]), default="stdio", show_default=True,
              help="stdio for a local agent; http serves streamable HTTP on --host/--port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (http).")
@click.option("--port", type=int, default=8765, show_default=True, help="Port to listen on (http; 0 = any).")
@click.option("--connect-timeout", type=SECONDS, default=10.0, show_default=True, metavar="SECONDS",
              help="How long to wait for the peer's admission.")
@click.option("--list", "list_only", is_flag=True, help="Print the tools and their schemas instead of serving.")
@json_option
def mcp(address: str, rcan: str | None, allow: tuple[str, ...], deny: tuple[str, ...], confirm: tuple[str, ...],
        transport: str, host: str, port: int, connect_timeout: float, list_only: bool, as_json: bool) -> None:
    """Serve the services of the Aster peer at ADDRESS as MCP tools, one per method.

    ADDRESS is an aster1... ticket, a base64 NodeAddr, a 64-hex endpoint id or
    a peer name from .aster-identity. Tools are named Service.method; their
    input schemas come from the manifests the peer publishes. Nothing is read
    from stdin but the MCP protocol itself; logs go to stderr.

    \b
    Examples:
      aster mcp aster1... --list
      aster mcp aster1... --deny 'Admin.*' --confirm '*.delete*'
      aster mcp aster1... --transport http --port 8765
    """
    if as_json and not list_only:
        raise UsageError("--json only applies with --list", "Use: aster mcp ADDRESS --list --json")
    _check_inputs(address, rcan, transport, port)
    filters = Filters(allow=allow, deny=deny, confirm=confirm)
    if list_only:
        from aster_core.output import emit, progress

        with progress("Connecting to the peer and reading its manifests..."):
            catalog = list_catalog(address, rcan=rcan, filters=filters, timeout=connect_timeout)
        emit(catalog.to_dict(), as_json, _render)
        if catalog.unread:
            from aster_core.errors import AsterError

            shown = "; ".join(f"{ref}: {why}" for ref, why in list(catalog.unread.items())[:3])
            more = f" (and {len(catalog.unread) - 3} more)" if len(catalog.unread) > 3 else ""
            raise AsterError(f"{len(catalog.unread)} service(s) have no tools because their method schemas "
                             f"could not be read: {shown}{more}",
                             "Retry (a producer may publish late), or give ASTER_MANIFEST_TIMEOUT more seconds; "
                             "a served `aster mcp` keeps reading them and announces new tools.")
        return
    stdio = None
    if transport == "stdio":
        from .handshake import EarlyStdio

        stdio = EarlyStdio()  # answers initialize (and tools/list: listing.py) while everything below loads
    from aster_connect.client import run as run_loop

    from .server import Options, serve

    _setup_logging()
    try:
        run_loop(serve(Options(address=address, rcan=rcan, filters=filters, transport=transport,
                                  host=host, port=port, connect_timeout=connect_timeout), stdio))
    except KeyboardInterrupt:
        pass
