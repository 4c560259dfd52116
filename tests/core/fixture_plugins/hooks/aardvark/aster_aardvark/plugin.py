"""Its doctor check must run after everyone else's (trylast), though the family's name sorts first."""
from aster_core.hookspecs import DoctorCheck, hookimpl


@hookimpl(trylast=True)
def aster_doctor_checks():
    return [DoctorCheck("aardvark last", "aster_aardvark.checks:last")]
