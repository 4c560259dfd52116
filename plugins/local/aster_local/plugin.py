"""Registers ``aster local`` with the host. Imports nothing heavy."""

from aster_core.hookspecs import CommandSpec, ConfigField, hookimpl


@hookimpl
def aster_commands():
    return [CommandSpec("local", "A whole mesh on this machine: init, up (authority + registry), status.",
                        "aster_local.cli:local")]


@hookimpl
def aster_config_fields():
    return [ConfigField("local.dir", "Folder of the local mesh `aster local up` and `status` use.",
                        env="ASTER_LOCAL_DIR", section="local", key="dir",
                        check="aster_local.layout:check_dir")]
