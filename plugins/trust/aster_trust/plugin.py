"""Registers the ``aster trust`` family with the host. Imports nothing heavy."""

from aster_core.hookspecs import CommandSpec, hookimpl


@hookimpl
def aster_commands():
    return [CommandSpec("trust", "Root keys and signed enrollment credentials (offline).", "aster_trust.cli:trust")]
