"""Errors of remote calls: a runtime status mapped onto the host's exit codes.

Every failure of a connection or a call surfaces as a :class:`CallError`
carrying the status name (``status``) and number (``status_code``) the runtime
uses, and is at the same time the matching :mod:`aster_core.errors` class, so
the host prints ``Error: [CODE] message`` plus a hint and exits with:

==============================  =================  =========
status                          class              exit code
==============================  =================  =========
PERMISSION_DENIED, admission,   :class:`CallDenied`      3
UNAUTHENTICATED
NOT_FOUND, UNIMPLEMENTED        :class:`CallNotFound`    4
UNAVAILABLE, DEADLINE_EXCEEDED  :class:`CallUnavailable` 7
INVALID_ARGUMENT,               :class:`CallInvalid`     2
CONTRACT_VIOLATION
anything else                   :class:`CallError`       1
==============================  =================  =========
"""

from __future__ import annotations

from aster_core.errors import AsterError, DeniedError, NotFoundError, UnavailableError, UsageError

#: The runtime's status codes (``aster.status.StatusCode``), kept here so that
#: mapping an error needs no import of the runtime.
STATUS_NAMES: dict[int, str] = {
    0: "OK", 1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND", 6: "ALREADY_EXISTS", 7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION", 10: "ABORTED", 11: "OUT_OF_RANGE", 12: "UNIMPLEMENTED",
    13: "INTERNAL", 14: "UNAVAILABLE", 15: "DATA_LOSS", 16: "UNAUTHENTICATED",
    101: "CONTRACT_VIOLATION",
}
STATUS_CODES: dict[str, int] = {name: code for code, name in STATUS_NAMES.items()}


class CallError(AsterError):
    """A connection or call failed with a runtime status."""

    def __init__(self, status: str, message: str, hint: str | None = None):
        self.status = status
        self.status_code = STATUS_CODES.get(status, 2)
        self.detail = message
        super().__init__(f"[{status}] {message}", hint)

    def to_dict(self) -> dict:
        """The error as data (for ``--json`` consumers and the MCP family)."""
        return {"status": self.status, "code": self.status_code, "message": self.detail,
                "hint": self.hint}


class CallDenied(CallError, DeniedError):
    pass


class CallNotFound(CallError, NotFoundError):
    pass


class CallUnavailable(CallError, UnavailableError):
    pass


class CallInvalid(CallError, UsageError):
    pass


_CLASS_BY_STATUS: dict[str, type[CallError]] = {
    "PERMISSION_DENIED": CallDenied,
    "UNAUTHENTICATED": CallDenied,
    "NOT_FOUND": CallNotFound,
    "UNIMPLEMENTED": CallNotFound,
    "UNAVAILABLE": CallUnavailable,
    "DEADLINE_EXCEEDED": CallUnavailable,
    "INVALID_ARGUMENT": CallInvalid,
    "CONTRACT_VIOLATION": CallInvalid,
}


_DEFAULT_HINTS: dict[str, str] = {
    "INTERNAL": "The service failed while handling the call; its log says why.",
    "UNKNOWN": "The service failed while handling the call; its log says why.",
    "INVALID_ARGUMENT": "Check the request against `describe` in aster shell.",
    "CONTRACT_VIOLATION": "The request does not match the service's contract; check field names and types.",
    "FAILED_PRECONDITION": "The service refused the call in its current state.",
    "RESOURCE_EXHAUSTED": "The service is rate-limiting or out of capacity; retry later.",
    "UNAVAILABLE": "Check that the server is running and reachable; retry.",
    "DEADLINE_EXCEEDED": "Raise --timeout, or check that the method finishes.",
    "CANCELLED": "The call was cancelled before it finished.",
}
GENERIC_HINT = "The service answered with this status; its documentation or log says more."


def call_error(status: int | str, message: str, hint: str | None = None) -> CallError:
    """The :class:`CallError` subclass for a status given by number or name."""
    name = STATUS_NAMES.get(status, f"STATUS_{status}") if isinstance(status, int) else status
    return _CLASS_BY_STATUS.get(name, CallError)(name, message, hint or _DEFAULT_HINTS.get(name, GENERIC_HINT))


def error_data(error: AsterError) -> dict:
    """Any command error as call-error data (``status``, ``code``, ``message``, ``hint``) plus its
    ``exit_code``: a local failure (bad input, a missing service) gets the status a server would
    have answered with, so every failed call of a batch reads alike."""
    if isinstance(error, CallError):
        data = error.to_dict()
    else:
        status = ("INVALID_ARGUMENT" if isinstance(error, UsageError) else "NOT_FOUND" if isinstance(error, NotFoundError)
                  else "PERMISSION_DENIED" if isinstance(error, DeniedError)
                  else "UNAVAILABLE" if isinstance(error, UnavailableError) else "UNKNOWN")
        data = {"status": status, "code": STATUS_CODES[status], "message": error.message, "hint": error.hint}
    return {**data, "exit_code": int(error.exit_code)}
