"""A wrapper around aster_config_fields that raises after the inner call."""
from aster_core.hookspecs import hookimpl


@hookimpl(wrapper=True)
def aster_config_fields():
    yield
    raise RuntimeError("wrapper exploded")
