"""Published manifests kept on disk, keyed by contract id.

A manifest is content-addressed: its contract id is the BLAKE3 of the service's
canonical contract, so a manifest read once under an id describes that id
forever and never needs refreshing. ``aster call``, ``shell`` and ``mcp`` look
here first and read from the peer only what is missing.

Layout: ``<home>/cache/manifests/<contract id>.json`` (the manifest JSON exactly
as the peer published it), each written atomically with
:func:`aster_core.files.atomic_write`, so a reader never sees half a file.

Bounds (checked once per process, after the first write):

- an entry unused for :data:`MAX_AGE` (30 days; a hit refreshes its time) is removed;
- beyond :data:`MAX_BYTES` (32 MiB) in all, the least recently used go first.

``ASTER_MANIFEST_CACHE=off`` (or ``0``/``no``/``false``) turns the cache off;
``ASTER_MANIFEST_CACHE_DIR`` puts it elsewhere. A cache that cannot be written
is skipped silently: it only ever saves time, it never fails a command.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ManifestCache", "CacheStats", "MAX_AGE", "MAX_BYTES", "default_cache"]

MAX_AGE = 30 * 86400.0
MAX_BYTES = 32 * 1024 * 1024
#: a hit older than this refreshes the entry's time (so age means "last used")
_TOUCH_AFTER = 86400.0
_CONTRACT_ID = re.compile(r"[0-9a-f]{64}")
_OFF = {"0", "off", "no", "false"}


@dataclass
class CacheStats:
    """What a :class:`ManifestCache` did in this process."""

    hits: int = 0
    misses: int = 0
    stored: int = 0
    pruned: int = 0


class ManifestCache:
    """Manifests by contract id under ``root`` (see the module docstring)."""

    def __init__(self, root: str | os.PathLike | None = None, *, max_bytes: int = MAX_BYTES,
                 max_age: float = MAX_AGE, enabled: bool = True) -> None:
        self.root = Path(root) if root is not None else default_cache().root
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.enabled = enabled
        self.stats = CacheStats()
        self._pruned = False

    def path(self, contract_id: str) -> Path:
        return self.root / f"{contract_id}.json"

    def get(self, contract_id: str) -> dict[str, Any] | None:
        """The cached manifest of ``contract_id``, or ``None`` (a damaged entry is removed)."""
        if not self.enabled or not _CONTRACT_ID.fullmatch(contract_id or ""):
            return None
        path = self.path(contract_id)
        try:
            raw = path.read_bytes()
            age = time.time() - path.stat().st_mtime
        except OSError:
            self.stats.misses += 1
            return None
        manifest = _parse(raw, contract_id)
        if manifest is None:
            _unlink(path)
            self.stats.misses += 1
            return None
        if age > _TOUCH_AFTER:
            try:
                os.utime(path)
            except OSError:
                pass
        self.stats.hits += 1
        return manifest

    def put(self, contract_id: str, raw: bytes) -> bool:
        """Keep the manifest ``raw`` (as published) for ``contract_id``; ``False`` when not kept.

        Only a JSON object whose own ``contract_id`` (when it names one) is
        ``contract_id`` is kept, so a wrong document can never be served later.
        """
        if not self.enabled or _parse(raw, contract_id) is None:
            return False
        from aster_core.errors import AsterError
        from aster_core.filemodes import private_dir
        from aster_core.files import atomic_write

        try:
            private_dir(self.root)  # every missing folder 0700, whatever the umask (mkdir's mode reaches the last only)
            atomic_write(self.path(contract_id), raw, mode=0o600)
        except (OSError, AsterError):
            return False
        self.stats.stored += 1
        if not self._pruned:
            self._pruned = True
            self.prune()
        return True

    def prune(self, now: float | None = None) -> int:
        """Remove entries unused for ``max_age``, then the oldest beyond ``max_bytes``; how many went."""
        now = time.time() if now is None else now
        entries: list[tuple[float, int, Path]] = []
        try:
            with os.scandir(self.root) as listing:
                for item in listing:
                    if not item.name.endswith(".json") and not item.name.endswith(".tmp"):
                        continue
                    try:
                        info = item.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    entries.append((info.st_mtime, info.st_size, Path(item.path)))
        except OSError:
            return 0
        removed = 0
        kept: list[tuple[float, int, Path]] = []
        for mtime, size, path in entries:
            stale_temp = path.name.endswith(".tmp") and now - mtime > 3600
            if stale_temp or (path.name.endswith(".json") and now - mtime > self.max_age):
                removed += _unlink(path)
            elif path.name.endswith(".json"):
                kept.append((mtime, size, path))
        total = sum(size for _, size, _ in kept)
        for mtime, size, path in sorted(kept):
            if total <= self.max_bytes:
                break
            removed += _unlink(path)
            total -= size
        self.stats.pruned += removed
        return removed


def _parse(raw: bytes, contract_id: str) -> dict[str, Any] | None:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if not isinstance(data, dict) or not isinstance(data.get("methods", []), list):
        return None
    if data.get("contract_id") not in (None, "", contract_id):
        return None
    return data


def _unlink(path: Path) -> int:
    try:
        path.unlink()
        return 1
    except OSError:
        return 0


_DEFAULT: ManifestCache | None = None


def default_cache() -> ManifestCache:
    """The process's cache under the aster home (off when ``ASTER_MANIFEST_CACHE=off``)."""
    global _DEFAULT
    from aster_core.home import aster_home

    root = Path(os.environ.get("ASTER_MANIFEST_CACHE_DIR") or aster_home() / "cache" / "manifests")
    enabled = os.environ.get("ASTER_MANIFEST_CACHE", "").strip().lower() not in _OFF
    if _DEFAULT is None or _DEFAULT.enabled != enabled or _DEFAULT.root != root:
        _DEFAULT = ManifestCache(root, enabled=enabled)
    return _DEFAULT
