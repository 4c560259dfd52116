"""Values for shell completion (``aster profile use <Tab>``, ``--profile <Tab>``, ids), from
local sources only: a Tab never waits on the network.

- Profile names come from ``config.toml``.
- Ids a server knows (deployments, plans, reviews, instances) come from a small cache the
  listing commands write when they list: ``<home>/cache/completion/<kind>.json``, holding
  up to :data:`MAX_IDS` ids per scope (a deployment's plans are one scope, ``svc/payments``)
  for up to :data:`MAX_SCOPES` scopes. Safe to delete; a damaged file is ignored and rewritten.

Completion must never fail loudly: every problem here (no home, a broken file, an unwritable
cache) gives no values and no message. Only ids that look like ids (no spaces, no control or
shell characters) are stored and offered, whatever a server sent.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Callable, Iterable

from .home import home_dir

MAX_IDS = 500
MAX_SCOPES = 64
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}")
_KIND = re.compile(r"[a-z][a-z0-9_-]{0,31}")


def cache_file(kind: str) -> str:
    if not _KIND.fullmatch(kind):
        raise ValueError(f"not a completion cache kind: {kind!r}")
    return os.path.join(home_dir(), "cache", "completion", f"{kind}.json")


def _read(kind: str) -> dict[str, list[str]]:
    try:
        with open(cache_file(kind), encoding="utf-8") as fh:
            doc = json.loads(fh.read(1 << 20))
    except (OSError, ValueError):
        return {}
    scopes = doc.get("scopes") if isinstance(doc, dict) else None
    if not isinstance(scopes, dict):
        return {}
    return {s: [v for v in ids if isinstance(v, str) and _ID.fullmatch(v)]
            for s, ids in scopes.items() if isinstance(s, str) and isinstance(ids, list)}


def remember(kind: str, scope: str, ids: Iterable[str], *, complete: bool) -> None:
    """Keep ``ids`` of ``kind`` under ``scope`` for completion. ``complete``: they are every id
    there is (an unfiltered listing of every page), so they replace what was kept; otherwise
    they are added to it. Never raises: a cache that cannot be written only costs completion."""
    try:
        fresh = [v for v in dict.fromkeys(ids) if isinstance(v, str) and _ID.fullmatch(v)]
        scopes = _read(kind)
        kept = [] if complete else [v for v in scopes.pop(scope, []) if v not in fresh]
        scopes.pop(scope, None)
        scopes[scope] = (fresh + kept)[:MAX_IDS]  # newest scope last; the oldest go first
        while len(scopes) > MAX_SCOPES:
            scopes.pop(next(iter(scopes)))
        from .filemodes import private_dir
        from .files import atomic_write

        path = cache_file(kind)
        private_dir(os.path.dirname(path))
        atomic_write(path, json.dumps({"scopes": scopes}), mode=0o600)
    except Exception:  # noqa: BLE001 - completion is a convenience; the command's own work is done
        pass


def recall(kind: str, scope: str) -> list[str]:
    """The ids kept for ``kind`` under ``scope`` (newest listing first)."""
    return _read(kind).get(scope, [])


def profile_names() -> list[str]:
    """Profiles in ``config.toml``, sorted; none when it cannot be read."""
    try:
        from .profiles import list_profiles

        return [p.name for p in list_profiles()]
    except Exception:  # noqa: BLE001 - see the module's docstring
        return []


def _items(values: Iterable[str], incomplete: str) -> list[Any]:
    from click.shell_completion import CompletionItem

    return [CompletionItem(v) for v in values if v.startswith(incomplete)]


def complete_profile(ctx: Any, param: Any, incomplete: str) -> list[Any]:
    """``shell_complete`` for an argument or option naming a profile."""
    return _items(profile_names(), incomplete)


def complete_cached(kind: str, scope: Callable[[Any], str | None]) -> Callable[[Any, Any, str], list[Any]]:
    """A ``shell_complete`` offering the cached ids of ``kind`` in the scope ``scope(ctx)`` names
    (None: nothing to offer)."""
    def complete(ctx: Any, param: Any, incomplete: str) -> list[Any]:
        try:
            where = scope(ctx)
        except Exception:  # noqa: BLE001 - see the module's docstring
            return []
        return _items(recall(kind, where), incomplete) if where is not None else []

    return complete
