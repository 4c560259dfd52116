"""Entry point of the `contract` family: imports nothing heavy.

``init`` is the released aster-cli 0.1.2's scaffolding command (``init --ai``: the agent guide),
hidden from ``aster --help`` (:mod:`aster_contract.compat`).
"""

from aster_core.hookspecs import CommandSpec, hookimpl


@hookimpl
def aster_commands():
    return [CommandSpec("contract", "Generate, verify, diff and export service contracts; generate typed clients.",
                        "aster_contract.cli:contract"),
            CommandSpec("init", "Write AGENTS_aster.md for AI coding assistants (aster-cli 0.1.2 spelling).",
                        "aster_contract.compat:init", hidden=True)]
