"""Registers the registry family with the host. Imports nothing heavy."""

from aster_core.hookspecs import CommandSpec, hookimpl


@hookimpl
def aster_commands():
    return [
        CommandSpec("registry", "Run a registry server (serve) and inspect it (status).", "aster_registry.cli:registry"),
    ]
