"""Where `aster` keeps its files: ``~/.aster`` unless ``ASTER_HOME`` says otherwise."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import AsterError


def aster_home() -> Path:
    """The home directory (not created)."""
    override = os.environ.get("ASTER_HOME")
    return Path(override).expanduser() if override else Path.home() / ".aster"


def ensure_home() -> Path:
    """The home directory, created with mode 0700 when missing."""
    home = aster_home()
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise AsterError(f"cannot create {home}: {exc.strerror or exc}",
                         "set ASTER_HOME to a writable directory") from None
    return home


def config_path() -> Path:
    """``<home>/config.toml``: profiles and family settings."""
    return aster_home() / "config.toml"
