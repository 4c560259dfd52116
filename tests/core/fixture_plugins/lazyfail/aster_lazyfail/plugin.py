"""A family whose plugin module is fine but whose command module is broken."""
from aster_core.hookspecs import CommandSpec, hookimpl


@hookimpl
def aster_commands():
    return [CommandSpec("lazyfail", "Fails only when run.", "aster_lazyfail.cli:lazyfail")]
