"""Errors families raise and the exit codes the host maps them to.

Commands raise :class:`AsterError` (or a subclass); the host prints one
``Error: ...`` line plus a hint on stderr and exits with the error's code.
No traceback is shown unless ``ASTER_DEBUG=1``.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Documented exit codes of every `aster` command (listed in README.md, "Exit codes")."""

    OK = 0
    FAILED = 1          #: the operation was attempted and failed
    USAGE = 2           #: bad usage or bad input (flags, files, values)
    DENIED = 3          #: a peer or policy refused us (PERMISSION_DENIED, admission)
    NOT_FOUND = 4       #: a named thing does not exist (profile, service, method, file)
    PLUGIN = 5          #: the command belongs to a family that failed to load
    KEYRING = 6         #: no usable OS keyring backend
    UNAVAILABLE = 7     #: a peer could not be reached or timed out
    INTERRUPTED = 130   #: Ctrl-C


class AsterError(Exception):
    """An expected failure: one message, one hint, one exit code."""

    exit_code: int = ExitCode.FAILED

    def __init__(self, message: str, hint: str | None = None, *, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(AsterError):
    exit_code = ExitCode.USAGE


class NotFoundError(AsterError):
    exit_code = ExitCode.NOT_FOUND


class DeniedError(AsterError):
    exit_code = ExitCode.DENIED


class PluginError(AsterError):
    exit_code = ExitCode.PLUGIN


class KeyringUnavailable(AsterError):
    exit_code = ExitCode.KEYRING


class UnavailableError(AsterError):
    exit_code = ExitCode.UNAVAILABLE
