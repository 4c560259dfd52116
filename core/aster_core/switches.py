"""The environment switches that choose which families the host loads.

- ``ASTER_PLUGINS=a,b``: load only these (distribution or entry-point names;
  ``-`` loads none).
- ``ASTER_DISABLE_PLUGINS=a,b``: load all but these.
- ``--no-plugins`` / ``ASTER_NO_PLUGINS=1``: built-in commands only.
- ``--strict-plugins`` / ``ASTER_STRICT_PLUGINS=1``: any plugin problem is an
  error (exit code 5) instead of a warning.
"""

from __future__ import annotations

import os

from .discovery import normalise_name


def env_list(name: str) -> set[str] | None:
    """The names a comma-separated variable lists (normalised); None when it is unset."""
    raw = os.environ.get(name)
    if raw is None:
        return None
    return {normalise_name(x) for x in raw.split(",") if x.strip() and x.strip() != "-"}


def truthy(name: str) -> bool:
    """Whether a variable is set to a yes (1, true, yes, on)."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
