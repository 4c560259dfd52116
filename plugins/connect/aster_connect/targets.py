"""``SERVICE.METHOD`` as a user writes it (``aster call``, a ``--batch`` line): parsed without the runtime."""

from __future__ import annotations

from aster_core.errors import UsageError

__all__ = ["split_target"]


def split_target(target: str) -> tuple[str, str]:
    """``SERVICE.METHOD`` (``SERVICE@N.METHOD`` for version N) -> (service, method)."""
    service, dot, method = target.rpartition(".")
    if not dot or not service or not method:
        raise UsageError(f"expected SERVICE.METHOD, got {target!r}",
                         "For example: aster call aster1... EchoService.echo '{\"text\": \"hi\"}'.")
    return service, method
