"""One of two families that both claim the command `rival`."""
from aster_core.hookspecs import CommandSpec, hookimpl


@hookimpl
def aster_commands():
    return [CommandSpec("rival", "Rival b.", "aster_rival_b.cli:rival")]
