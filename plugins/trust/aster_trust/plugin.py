"""Registers the ``aster trust`` family with the host. Imports nothing heavy.

``keygen`` and ``authorize`` are the released aster-cli 0.1.2's spellings of this family's work
(:mod:`aster_trust.compat`), hidden from ``aster --help``.
"""

from aster_core.hookspecs import CommandSpec, hookimpl


@hookimpl
def aster_commands():
    return [CommandSpec("trust", "Root keys and signed enrollment credentials (offline).", "aster_trust.cli:trust"),
            CommandSpec("keygen", "Generate a profile's root key or a node key (aster-cli 0.1.2 spelling).",
                        "aster_trust.compat:keygen", hidden=True),
            CommandSpec("authorize", "Sign a producer credential offline (aster-cli 0.1.2 spelling).",
                        "aster_trust.compat:authorize", hidden=True)]
