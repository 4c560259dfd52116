"""Where `aster` keeps its files: ``~/.aster`` unless ``ASTER_HOME`` says otherwise."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


def home_dir() -> str:
    """The home directory as a string (not created).

    The start-up path (the plugin cache) reads it, so it stays free of pathlib's import.
    """
    override = os.environ.get("ASTER_HOME")
    return os.path.expanduser(override) if override else os.path.join(os.path.expanduser("~"), ".aster")


def aster_home() -> Path:
    """The home directory (not created)."""
    from pathlib import Path

    return Path(home_dir())


def ensure_home() -> Path:
    """The home directory, created with mode 0700 when missing."""
    home = aster_home()
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        from .errors import AsterError  # not at the top: the start-up path reads this module

        raise AsterError(f"cannot create {home}: {exc.strerror or exc}",
                         "set ASTER_HOME to a writable directory") from None
    return home


def config_path() -> Path:
    """``<home>/config.toml``: profiles and family settings."""
    return aster_home() / "config.toml"

