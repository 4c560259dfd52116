"""The host's own hook implementations: the settings and checks of aster-core itself.

Registered directly by the host (not through an entry point), so it can never
be disabled or fail to load.
"""

from __future__ import annotations

from .hookspecs import ConfigField, DoctorCheck, hookimpl


@hookimpl
def aster_config_fields() -> list[ConfigField]:
    return [
        ConfigField("home", "Where aster keeps config.toml, contracts and history.", env="ASTER_HOME",
                    default="~/.aster"),
        ConfigField("active_profile", "Profile commands use unless --profile is given.", env="ASTER_PROFILE",
                    section="", key="active_profile", check="aster_core.configset:existing_profile"),
        ConfigField("plugins", "Load only these plugins (comma-separated).", env="ASTER_PLUGINS"),
        ConfigField("disable_plugins", "Do not load these plugins (comma-separated).", env="ASTER_DISABLE_PLUGINS"),
        ConfigField("strict_plugins", "Treat plugin problems as errors.", env="ASTER_STRICT_PLUGINS", default=False),
        ConfigField("debug", "Show tracebacks for errors.", env="ASTER_DEBUG", default=False),
        ConfigField("keyring_backend", "Keyring backend override (module.Class).", env="PYTHON_KEYRING_BACKEND"),
    ]


@hookimpl
def aster_commands() -> list:
    return []  # built-in commands are declared in aster_core.host.BUILTINS


@hookimpl
def aster_shell_commands() -> list:
    return []


@hookimpl
def aster_doctor_checks() -> list[DoctorCheck]:
    return [
        DoctorCheck("plugins", "aster_core.checks:check_plugins"),
        DoctorCheck("home", "aster_core.checks:check_home"),
        DoctorCheck("config", "aster_core.checks:check_config"),
        DoctorCheck("keyring", "aster_core.checks:check_keyring"),
    ]
