"""Its doctor check must run before everyone else's (tryfirst), though the family's name sorts last."""
from aster_core.hookspecs import CommandSpec, DoctorCheck, hookimpl


@hookimpl
def aster_commands():
    return [CommandSpec("zeta", "The zeta family's command.", "aster_zeta.cli:zeta")]


@hookimpl(tryfirst=True)
def aster_doctor_checks():
    return [DoctorCheck("zeta first", "aster_zeta.cli:first")]
