"""Registers the ``aster enroll`` family with the host. Imports nothing heavy."""

from aster_core.hookspecs import CommandSpec, DoctorCheck, hookimpl


@hookimpl
def aster_commands():
    return [CommandSpec("enroll", "Enroll nodes: node key, signed credential, .aster-identity.",
                        "aster_enroll.cli:enroll")]


@hookimpl
def aster_doctor_checks():
    return [DoctorCheck("identity", "aster_enroll.checks:check_identity", ("trust",))]
