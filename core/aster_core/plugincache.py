"""The plugin cache: what discovery found and each family declared, so ``aster --help``
neither reads every distribution's metadata nor imports any plugin module.

Listing commands means reading the entry points of every distribution on
``sys.path``, importing every family's plugin module, registering it with
pluggy and calling ``aster_commands`` through it. That answer changes only when
installed code changes, so the host keeps it in ``<home>/cache/plugins.marshal``
and uses it instead of that work only while nothing it depends on has changed:

- the environment (one slot per interpreter and ``sys.path``, the last few
  kept): the host's version, the hookspecs module's size and mtime, the Python
  version, and the mtime of every folder on ``sys.path``. Installing, removing,
  upgrading or reinstalling a distribution creates, removes or renames a
  metadata folder in one of them (editable installs included), which changes
  that folder's mtime; only an edit in place of a file inside a metadata folder
  by hand goes unseen (for a family's own files, see the next item). Any other
  file created in such a folder costs one start its cache, nothing else.
- each family: the size and mtime of its ``entry_points.txt``, ``METADATA``
  (or ``PKG-INFO``), ``RECORD`` and plugin module file, so an edit to an
  editable install's plugin module counts.

What it holds: every entry point discovery found in our group with whether its
``aster-core`` range admits this host, and per family the commands
``aster_commands`` returned, the hooks its plugin module implements and the
``aster_*`` names that match none. A family that failed is only marked so:
every start imports its plugin module again (and reports it again while it
fails; once it imports, everything is loaded afresh). A start the cache cannot
fully answer discovers and loads everything afresh.
Every other hook still runs through pluggy when a command asks for it. A
missing, corrupt or unreadable cache is ignored and rewritten; failing to write
it is silent. Deleting the file is always safe.
"""

from __future__ import annotations

import marshal
import os
import sys
import zlib
from typing import Any

from . import __version__

_MAGIC = b"aster-plugin-cache 3\n"
#: Environments (interpreter + sys.path) remembered side by side, oldest dropped first.
MAX_ENVIRONMENTS = 8
_HOOKSPECS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hookspecs.py")
_FAMILY_FILES = ("entry_points.txt", "METADATA", "PKG-INFO", "RECORD")

#: One family's entry: (stamp, plugin module file, hooks, unknown hooks, ((name, help, target, hidden), ...) or FAILED).
Entry = tuple
#: What an entry holds instead of commands for a family that failed to load.
FAILED = "failed"


class Snapshot:
    """One environment's slot as read (a plain class: this module is on the start-up path)."""

    __slots__ = ("found", "entries")

    def __init__(self, found: tuple, entries: dict):
        self.found = found        #: (FoundPlugin fields..., admits this host) per entry point
        self.entries = entries    #: entry_id -> Entry


def cache_file() -> str:
    from .home import home_dir

    return os.path.join(home_dir(), "cache", "plugins.marshal")


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return info.st_mtime_ns, info.st_size


def environment_key() -> tuple:
    """What this environment's slot depends on: the stamp of every ``sys.path`` folder, among
    the rest (see the module docstring). A folder's mtime changes whenever an entry is added to
    it, removed or renamed, so a stat per path entry stands for listing each and stat-ing every
    metadata folder in it (a hundred on a full install: most of a warm start's own time)."""
    folders = tuple((entry, _stamp(entry or ".")) for entry in sys.path)
    return __version__, _stamp(_HOOKSPECS), sys.version, folders


def family_stamp(dist_path: str, module_file: str | None) -> tuple:
    return (*(_stamp(os.path.join(dist_path, name)) for name in _FAMILY_FILES),
            _stamp(module_file) if module_file else None)


def entry_id(dist_path: str, entry_point: str, value: str) -> tuple[str, str, str]:
    return dist_path, entry_point, value


def make_entry(dist_path: str, module_file: str | None, hooks: list[str], unknown_hooks: list[str],
               commands: list[tuple[str, str, str, bool]] | None) -> Entry:
    """One family's entry; ``commands`` None for a family that failed to load."""
    return (family_stamp(dist_path, module_file), module_file, tuple(hooks), tuple(unknown_hooks),
            FAILED if commands is None else tuple(commands))


def _environment() -> tuple:
    return sys.executable, tuple(sys.path)


def _read_store() -> dict | None:
    try:
        with open(cache_file(), "rb") as fh:
            data = fh.read()
    except (OSError, ValueError):
        return None
    try:
        if not data.startswith(_MAGIC):
            return None
        checksum, payload = data[len(_MAGIC):len(_MAGIC) + 4], data[len(_MAGIC) + 4:]
        if zlib.crc32(payload).to_bytes(4, "big") != checksum:
            return None
        store = marshal.loads(payload)
        return store if isinstance(store, dict) else None
    except Exception:  # whatever a damaged file does to the decoder, it is only a cache miss
        return None


def _valid_found(found: Any) -> bool:
    return isinstance(found, tuple) and all(
        isinstance(f, tuple) and len(f) == 7 and all(isinstance(x, str) for x in f[:6]) and isinstance(f[6], bool)
        for f in found)


def read(key: tuple) -> Snapshot | None:
    """This environment's snapshot if it was written under ``key``, else None."""
    store = _read_store()
    slot = store.get(_environment()) if store else None
    try:
        if slot is not None and slot[0] == key and _valid_found(slot[1]) and isinstance(slot[2], dict):
            return Snapshot(slot[1], slot[2])
    except Exception:
        pass
    return None


def declared(snapshot: Snapshot, ident: tuple, dist_path: str) -> tuple[list[str], list[str], list[tuple]] | str | None:
    """(hooks, unknown hooks, commands) cached for one family, :data:`FAILED`, or None when missing or stale."""
    try:
        stamp, module_file, hooks, unknown, commands = snapshot.entries[ident]
        if stamp != family_stamp(dist_path, module_file):
            return None
        if commands == FAILED:
            return FAILED
        if any(len(c) != 4 or not isinstance(c[3], bool) for c in commands):
            return None
        names = [*hooks, *unknown] + [part for command in commands for part in command[:3]]
        if not all(isinstance(name, str) for name in names):
            return None
        return list(hooks), list(unknown), [tuple(command) for command in commands]
    except Exception:
        return None


def write(key: tuple, found: tuple, entries: dict[tuple, Entry]) -> None:
    """Store this environment's snapshot under ``key`` (keeping the entries of families not
    loaded this time if they were written under the same key, and up to
    :data:`MAX_ENVIRONMENTS` other environments). Never raises."""
    try:
        store = _read_store() or {}
        environment = _environment()
        old = store.pop(environment, None)
        merged = dict(old[2]) if isinstance(old, tuple) and len(old) == 3 and old[0] == key \
            and isinstance(old[2], dict) else {}
        merged.update(entries)
        store[environment] = (key, found, merged)
        while len(store) > MAX_ENVIRONMENTS:
            del store[next(iter(store))]
        payload = marshal.dumps(store)
        from .files import atomic_write
        from .home import ensure_home

        ensure_home()
        os.makedirs(os.path.dirname(cache_file()), mode=0o700, exist_ok=True)
        atomic_write(cache_file(), _MAGIC + zlib.crc32(payload).to_bytes(4, "big") + payload)
    except Exception:  # an unwritable home (or anything else) only costs the next start-up its speed
        pass
