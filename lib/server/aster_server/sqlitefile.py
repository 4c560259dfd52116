"""A SQLite database file only its owner can read.

The servers' databases hold secrets: the registry's, the key that signs producer tokens (with
it anyone forges a token and registers their own address for someone's service); the
authority's, device activation keys. :func:`private_sqlite_file` runs before SQLite opens the
file (:func:`aster_server.storage.create_engine` calls it):

- missing folders are created 0700 (:func:`aster_core.filemodes.private_dir`) and a missing
  file 0600, so SQLite, which gives its ``-wal`` and ``-shm`` files the database's mode, makes
  those 0600 too;
- a database or side file readable by others (made by an older version, or by hand) is set to
  0600 with one warning line; one that cannot be changed (someone else's) is warned about and
  used as it is. Folders that exist are left as they are: they may be the operator's own.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from aster_core.filemodes import PRIVATE_FILE, private_dir, tighten

LOG = logging.getLogger("aster_server.storage")

#: what SQLite keeps beside a database file (WAL mode: -wal and -shm; a rollback journal)
SIDE_FILES = ("-wal", "-shm", "-journal")


def private_sqlite_file(path: Path) -> None:
    """Create ``path`` (and its folders) private, or tighten it and its side files; ``OSError``
    when it cannot be created."""
    private_dir(path.parent)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), PRIVATE_FILE))
    loose: list[str] = []
    modes: set[int] = set()
    for name in (str(path), *(f"{path}{suffix}" for suffix in SIDE_FILES)):
        try:
            before = tighten(name)
        except OSError as exc:
            LOG.warning("%s is readable by others and could not be set to 0600 (%s); chmod 600 it "
                        "and its -wal and -shm files", name, exc.strerror or exc)
            continue
        if before is not None:
            loose.append(Path(name).name)
            modes.add(before)
    if loose:
        LOG.warning("%s in %s had mode %s, readable by others; set to 0600 (the database holds the "
                    "server's secrets)", ", ".join(loose), path.parent, "/".join(f"{m:04o}" for m in sorted(modes)))
