"""Registers the ``aster enroll`` family with the host. Imports nothing heavy."""

from aster_core.hookspecs import CommandSpec, hookimpl


@hookimpl
def aster_commands():
    return [CommandSpec("enroll", "Enroll nodes: node key, signed credential, .aster-identity.",
                        "aster_enroll.cli:enroll")]
