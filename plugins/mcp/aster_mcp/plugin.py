"""Registration of the `mcp` family with the `aster` host (imports nothing heavy)."""

from aster_core.hookspecs import CommandSpec, hookimpl


@hookimpl
def aster_commands() -> list[CommandSpec]:
    return [CommandSpec("mcp", "Serve a live Aster peer's services as tools for AI agents (MCP).",
                        "aster_mcp.cli:mcp")]
