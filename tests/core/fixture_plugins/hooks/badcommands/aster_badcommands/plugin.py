"""aster_commands raises, so the family never declares its command."""
from aster_core.hookspecs import hookimpl


@hookimpl
def aster_commands():
    raise RuntimeError("commands exploded")
