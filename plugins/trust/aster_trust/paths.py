"""Checks on an output path made before anything is signed or written, so a bad path leaves no file."""

from __future__ import annotations

import os
from pathlib import Path

from aster_core.errors import AsterError, UsageError


def check_writable_target(path: Path) -> None:
    """Refuse a directory, a missing parent directory, or a place we may not write."""
    if path.is_dir():
        raise UsageError(f"{path} is a directory", "give a file path")
    parent = path.parent
    if not parent.is_dir():
        state = "is not a directory" if parent.exists() else "does not exist"
        raise AsterError(f"cannot write {path}: {parent} {state}", "create the directory first or choose another path")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise AsterError(f"cannot write {path}: permission denied", "choose a path you may write to")


def check_new_file(path: Path, force: bool) -> None:
    """As :func:`check_writable_target`, and refuse an existing file unless ``force``."""
    check_writable_target(path)
    if path.exists() and not force:
        raise UsageError(f"{path} already exists", "choose another path, or pass --force to replace it")
