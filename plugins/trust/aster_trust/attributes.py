"""Credential attributes: ``--attr KEY=VALUE`` parsing and the reserved ``aster.*`` keys."""

from __future__ import annotations

from typing import Iterable

from aster_core.errors import UsageError

ROLE = "aster.role"
NAME = "aster.name"
RESERVED = frozenset({ROLE, NAME, "aster.iid_provider", "aster.iid_account", "aster.iid_region",
                      "aster.iid_role_arn"})


def parse_attributes(pairs: Iterable[str]) -> dict[str, str]:
    """``["team=billing", "tier=gold"]`` -> ``{"team": "billing", "tier": "gold"}``.

    The value may itself contain ``=``; a key may not be empty or given twice.
    """
    attributes: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep:
            raise UsageError(f"--attr {pair!r} has no '='", "write attributes as KEY=VALUE, e.g. --attr team=billing")
        if not key:
            raise UsageError(f"--attr {pair!r} has an empty key", "write attributes as KEY=VALUE, e.g. --attr team=billing")
        if key in attributes:
            raise UsageError(f"attribute {key!r} is given twice", "give each --attr key once")
        attributes[key] = value
    return attributes


def parse_capabilities(text: str) -> str:
    """``"ops.status, ops.logs"`` -> ``"ops.status,ops.logs"``: the ``aster.role`` value the
    runtime's capability check splits on commas."""
    roles = [part.strip() for part in text.split(",")]
    if not any(roles) or not all(roles):
        raise UsageError(f"invalid capabilities {text!r}", "give a comma-separated list, e.g. --capabilities ops.status,ops.logs")
    return ",".join(dict.fromkeys(roles))
