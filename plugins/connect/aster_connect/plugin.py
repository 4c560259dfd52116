"""Plugin module of the connect family: declares commands only, imports nothing heavy."""

from aster_core.hookspecs import CommandSpec, hookimpl


@hookimpl
def aster_commands():
    return [
        CommandSpec("call", "Call a method of a live service and print the result as JSON.",
                    "aster_connect.cli:call"),
        CommandSpec("shell", "Explore and call the services of a live peer interactively.",
                    "aster_connect.cli:shell"),
    ]
