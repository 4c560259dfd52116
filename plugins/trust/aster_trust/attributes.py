"""Credential attributes: ``--attr KEY=VALUE`` parsing and the reserved ``aster.*`` keys."""

from __future__ import annotations

from typing import Iterable

from aster_core.errors import UsageError
from aster_core.text import check_text, shown

#: an attribute's key and value (a credential carries them signed; nothing longer is sensible)
MAX_KEY = 128
MAX_VALUE = 4096
_ONE_LINE = "attributes are one line of text each, without control characters"

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
        # signed into the credential and shown by every tool that prints it: one line each
        check_text(key, field="--attr key", max_length=MAX_KEY, hint=_ONE_LINE)
        check_text(value, field=f"--attr {key}", max_length=MAX_VALUE, hint=_ONE_LINE)
        attributes[key] = value
    return attributes


def parse_capabilities(text: str) -> str:
    """``"ops.status, ops.logs"`` -> ``"ops.status,ops.logs"``: the ``aster.role`` value the
    runtime's capability check splits on commas."""
    roles = [part.strip() for part in text.split(",")]
    if not any(roles) or not all(roles):
        raise UsageError(f"invalid capabilities {shown(text)}", "give a comma-separated list, e.g. --capabilities ops.status,ops.logs")
    for role in roles:
        check_text(role, field="--capabilities", max_length=MAX_VALUE, hint=_ONE_LINE)
    return ",".join(dict.fromkeys(roles))


def pairs_from_json(text: str, flag: str = "--attributes") -> list[str]:
    """A JSON object of string values (the released 0.1.2 CLI's ``--attributes '{"k": "v"}'``)
    as ``KEY=VALUE`` pairs for :func:`parse_attributes`. The runtime signs string values only,
    so a number or a list is refused rather than signed into a credential no server admits."""
    from aster_core.files import parse_json

    hint = f"""give a JSON object of strings, e.g. {flag} '{{"aster.role": "producer"}}'"""
    doc = parse_json(text, flag, hint)
    if not isinstance(doc, dict):
        raise UsageError(f"{flag} must be a JSON object", hint)
    pairs = []
    for key, value in doc.items():
        if not isinstance(value, str):
            raise UsageError(f"{flag}: the value of {key!r} is not a string", hint)
        if "=" in key:
            raise UsageError(f"{flag}: the key {key!r} contains '='", hint)
        pairs.append(f"{key}={value}")
    return pairs


def pairs_from_commas(text: str, flag: str = "--attributes") -> list[str]:
    """``"k=v,k2=v2"`` (the released 0.1.2 CLI's ``enroll node --attributes``) as ``KEY=VALUE``
    pairs; unlike 0.1.2, a part without ``=`` is an error rather than dropped unsigned."""
    return [part.strip() for part in text.split(",") if part.strip()]
