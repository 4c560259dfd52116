"""Folders and files only their owner may read: the modes of everything that holds a secret.

Keys, identity files, tokens and the servers' databases (the registry's holds the key that
signs producer tokens, the authority's device activation keys) live in files of mode 0600 in
folders of mode 0700. :func:`aster_core.files.atomic_write` gives a file its mode from birth;
this module gives the folders theirs and tightens what someone made looser.

- :func:`private_dir` creates every missing folder of a path 0700. ``Path.mkdir(mode=...,
  parents=True)`` is not enough: it gives the mode to the last folder only (the parents get
  the umask's default, 0755) and the umask can strip bits from the mode itself.
- :func:`tighten` takes group and other bits off an existing file (or folder) and says
  what they were, so the caller can warn once.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["PRIVATE_DIR", "PRIVATE_FILE", "private_dir", "tighten"]

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: str | os.PathLike) -> Path:
    """``path``, a folder: each of its folders that is missing is created with mode 0700 (set
    exactly, whatever the umask). Folders that exist are left as they are (they may be the
    user's own, e.g. the current directory); ``OSError`` when one cannot be created."""
    path = Path(path)
    missing: list[Path] = []
    current = path
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, PRIVATE_DIR)
        except FileExistsError:
            if not folder.is_dir():
                raise
            continue  # another process made it meanwhile: theirs, as it is
        os.chmod(folder, PRIVATE_DIR)
    return path


def tighten(path: str | os.PathLike, mode: int = PRIVATE_FILE) -> int | None:
    """Take every permission bit outside ``mode`` off ``path`` (a symlink is followed); the
    bits it had when some were taken off, ``None`` when there was nothing to take off or no
    such file. ``OSError`` when it cannot be changed (someone else's file)."""
    try:
        before = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None
    if not before & ~mode & 0o7777:
        return None
    os.chmod(path, before & mode)
    return before
