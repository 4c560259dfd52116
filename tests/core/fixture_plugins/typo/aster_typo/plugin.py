"""A family with a misspelled hook and an unmarked one."""
from aster_core.hookspecs import CommandSpec, hookimpl


@hookimpl
def aster_comands():  # misspelled: matches no hookspec
    return [CommandSpec("typo", "Never registered.", "aster_typo.cli:typo")]


def aster_doctor_checks():  # forgot @hookimpl
    return []
