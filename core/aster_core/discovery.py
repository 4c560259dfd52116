"""Find installed families without importing them (or importlib.metadata).

Reading ``*.dist-info/entry_points.txt`` straight off ``sys.path`` costs well
under a millisecond, while importing :mod:`importlib.metadata` alone costs
more than the host's whole start-up budget (benchmarks/bench_startup.py).
The result is what ``importlib.metadata.entry_points(group=...)`` would give,
with the first distribution of a name on ``sys.path`` winning, as there.
"""

from __future__ import annotations

import os
import re
import sys
from typing import NamedTuple

from . import ENTRY_POINT_GROUP


class FoundPlugin(NamedTuple):
    """One entry point in our group, with what its distribution's metadata says."""

    name: str            #: entry-point name (the family's primary command by convention)
    value: str           #: ``module`` or ``module:attr`` of the plugin module
    distribution: str    #: distribution name as published, e.g. ``aster-trust``
    version: str
    dist_path: str       #: the ``.dist-info`` directory
    requires_core: str   #: the ``aster-core`` specifier it declares, "" if none


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _entry_points(text: str, group: str) -> list[tuple[str, str]]:
    found, in_group = [], False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            in_group = line == f"[{group}]"
        elif in_group and "=" in line:
            name, _, value = line.partition("=")
            found.append((name.strip(), value.strip()))
    return found


def _metadata(dist_info: str) -> tuple[str, str, str]:
    """(name, version, aster-core specifier) from a METADATA file's headers."""
    name = version = requires = ""
    try:
        with open(os.path.join(dist_info, "METADATA"), encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    break  # headers end at the first blank line
                key, _, value = line.partition(":")
                value = value.strip()
                if key == "Name":
                    name = value
                elif key == "Version":
                    version = value
                elif key == "Requires-Dist":
                    req = value.split(";")[0].strip()
                    m = re.match(r"^(aster[-_.]core)\s*\(?\s*([^)]*)\)?$", req, re.IGNORECASE)
                    if m:
                        requires = m.group(2).strip()
    except OSError:
        pass
    return name, version, requires


def find_plugins(group: str = ENTRY_POINT_GROUP) -> list[FoundPlugin]:
    """Every entry point in ``group``, sorted by distribution then entry-point name."""
    seen: set[str] = set()
    found: list[FoundPlugin] = []
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for item in names:
            if not item.endswith(".dist-info"):
                continue
            dist_key = _normalise(item[:-10].rsplit("-", 1)[0])
            if dist_key in seen:
                continue
            seen.add(dist_key)
            dist_info = os.path.join(entry or ".", item)
            try:
                with open(os.path.join(dist_info, "entry_points.txt"), encoding="utf-8") as fh:
                    text = fh.read()
            except OSError:
                continue
            if f"[{group}]" not in text:
                continue
            name, version, requires = _metadata(dist_info)
            for ep_name, value in _entry_points(text, group):
                found.append(FoundPlugin(ep_name, value, name or dist_key, version, dist_info, requires))
    return sorted(found, key=lambda p: (_normalise(p.distribution), p.name))


# -- version ranges -----------------------------------------------------------

def _release(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split("."):
        digits = re.match(r"\d+", piece)
        if not digits:
            break
        parts.append(int(digits.group()))
    return tuple(parts)


def _cmp(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    width = max(len(a), len(b))
    a, b = a + (0,) * (width - len(a)), b + (0,) * (width - len(b))
    return (a > b) - (a < b)


def version_satisfies(version: str, specifier: str) -> bool:
    """Whether ``version`` meets a PEP 440 specifier such as ``>=0.1,<0.2``.

    Handles the operators plugins use (``>= > <= < == != ~=``, ``==X.*``) on
    release numbers; an empty specifier accepts everything.
    """
    have = _release(version)
    for clause in filter(None, (c.strip() for c in specifier.split(","))):
        m = re.match(r"^(~=|==|!=|>=|<=|>|<)\s*(\S+)$", clause)
        if not m:
            return False
        op, target = m.groups()
        if target.endswith(".*") and op in ("==", "!="):
            prefix = _release(target[:-2])
            match = have[: len(prefix)] == prefix
            if match != (op == "=="):
                return False
            continue
        want = _release(target)
        c = _cmp(have, want)
        ok = {
            ">=": c >= 0, ">": c > 0, "<=": c <= 0, "<": c < 0, "==": c == 0, "!=": c != 0,
            "~=": c >= 0 and have[: max(len(want) - 1, 1)] == want[: max(len(want) - 1, 1)],
        }[op]
        if not ok:
            return False
    return True
