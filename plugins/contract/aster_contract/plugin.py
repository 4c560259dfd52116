"""Entry point of the `contract` family: imports nothing heavy."""

from aster_core.hookspecs import CommandSpec, hookimpl


@hookimpl
def aster_commands():
    return [CommandSpec("contract", "Generate, verify, diff and export service contracts; generate typed clients.",
                        "aster_contract.cli:contract")]
