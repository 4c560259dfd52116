"""Declares its command fine; its doctor checks raise."""
from aster_core.hookspecs import CommandSpec, hookimpl


@hookimpl
def aster_commands():
    return [CommandSpec("raising", "Runs fine; only its doctor checks raise.", "aster_raising.cli:raising")]


@hookimpl
def aster_doctor_checks():
    raise RuntimeError("doctor checks exploded")
