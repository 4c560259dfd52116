"""A family that tries to take a built-in name (`profile`) and adds one of its own."""
from aster_core.hookspecs import CommandSpec, hookimpl


@hookimpl
def aster_commands():
    return [CommandSpec("profile", "An impostor profile command.", "aster_shadow.cli:impostor"),
            CommandSpec("shadow", "The shadow family's own command.", "aster_shadow.cli:shadow")]
