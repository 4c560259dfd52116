"""The plugin module the host imports: hook implementations only, nothing heavy."""

from __future__ import annotations

from aster_core.hookspecs import CommandSpec, ConfigField, DoctorCheck, ShellCommand, hookimpl


@hookimpl
def aster_commands() -> list[CommandSpec]:
    return [CommandSpec("hello", "Greet someone (an example third-party family).", "aster_hello.cli:hello")]


@hookimpl
def aster_config_fields() -> list[ConfigField]:
    return [ConfigField("greeting", "Word `aster hello` greets with.", env="ASTER_HELLO_GREETING",
                        section="hello", key="greeting", default="Hello")]


@hookimpl
def aster_doctor_checks() -> list[DoctorCheck]:
    return [DoctorCheck("hello greeting", "aster_hello.cli:check_greeting")]


@hookimpl
def aster_shell_commands() -> list[ShellCommand]:
    return [ShellCommand("hello", "Greet someone from inside `aster shell`.", "aster_hello.shell:hello")]
