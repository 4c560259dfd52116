"""A new-style wrapper that records every family's doctor checks and adds its own, and an
old-style hookwrapper that adds a setting with force_result."""
from aster_core.hookspecs import ConfigField, DoctorCheck, hookimpl

#: What the doctor-checks wrapper saw: one list of check names per family, in call order.
SEEN: list = []


@hookimpl(wrapper=True)
def aster_doctor_checks():
    results = yield
    SEEN[:] = [[check.name for check in got] for got in results]
    return [*results, [DoctorCheck("watcher saw", "aster_watcher.checks:saw")]]


@hookimpl(hookwrapper=True)
def aster_config_fields():
    outcome = yield
    outcome.force_result([*outcome.get_result(),
                          [ConfigField("watched", "Added by an old-style hook wrapper.", default="yes")]])
