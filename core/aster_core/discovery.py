"""Find installed families without importing them (or importlib.metadata).

Reading the metadata folders on ``sys.path`` directly costs well under a
millisecond, while importing :mod:`importlib.metadata` alone costs more than
the host's whole start-up budget (benchmarks/bench_startup.py). The result is
what ``importlib.metadata.entry_points(group=...)`` gives, found the same way:

- every ``*.dist-info`` and ``*.egg-info`` folder of every ``sys.path`` entry,
  in path order (so an editable install's ``.pth`` entries and the egg-info
  setuptools leaves in a source tree count too);
- one distribution per name, the first found winning, with the name taken
  from the folder as importlib.metadata takes it (up to the first ``-``,
  normalised), so a second version further down the path is ignored;
- ``entry_points.txt`` read as importlib.metadata reads it (``#`` comments,
  a section is any ``[...]`` line), name and version from ``METADATA`` (or
  ``PKG-INFO``) headers as the email parser reads them.

Where importlib.metadata raises (an entry-point line without ``=``, a file
that is not UTF-8) the line or distribution is skipped instead. Zipped path
entries, ``.egg`` folders and distributions that other finders on
``sys.meta_path`` provide are not searched.
``tests/core/test_discovery.py`` builds real distributions and compares.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Iterable, NamedTuple

from . import ENTRY_POINT_GROUP


class FoundPlugin(NamedTuple):
    """One entry point in our group, with what its distribution's metadata says."""

    name: str            #: entry-point name (the family's primary command by convention)
    value: str           #: ``module`` or ``module:attr`` of the plugin module
    distribution: str    #: distribution name as published, e.g. ``aster-trust``
    version: str
    dist_path: str       #: the ``.dist-info`` (or ``.egg-info``) directory
    requires_core: str   #: the ``aster-core`` specifier it declares, "" if none


def normalise_name(name: str) -> str:
    """A distribution or entry-point name as comparisons see it (``Aster_Core`` -> ``aster-core``):
    every run of ``-``, ``_`` and ``.`` becomes one ``-`` (without a regular expression to compile
    on the start-up path)."""
    name = name.lower().replace("_", "-").replace(".", "-")
    while "--" in name:
        name = name.replace("--", "-")
    return name


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (OSError, ValueError):  # missing, unreadable or not UTF-8: as if absent
        return None


def _entry_points(text: str, group: str) -> list[tuple[str, str]]:
    found, section = [], None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")
        elif section == group:
            name, sep, value = line.partition("=")
            if sep:
                found.append((name.strip(), value.strip()))
    return found


# Patterns as text: compiled on first use (reading metadata), not on every start.
#: A header line as the email parser recognises one; anything else ends the headers.
_HEADER = r"[\041-\071\073-\176]*:"
#: A requirement's name, its extras and the rest (version specifier, marker).
_REQUIREMENT = r"(?s)\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?(.*)"


def _headers(text: str) -> dict[str, list[str]]:
    """Header name (lower case) -> every value, as ``email`` would parse them."""
    headers: dict[str, list[str]] = {}
    for line in re.split(r"\r\n|\r|\n", text):
        if line[:1] in (" ", "\t"):
            continue  # a folded continuation: none of the headers we read are folded
        if not re.match(_HEADER, line):
            break  # a blank line, or a line that is not a header, ends them
        key, _, value = line.partition(":")
        headers.setdefault(key.lower(), []).append(value.strip())
    return headers


def _requirements(dist_info: str, headers: dict[str, list[str]]) -> list[str]:
    """Requires-Dist headers, or the unconditional and marker sections of an egg-info's requires.txt."""
    if "requires-dist" in headers:
        return headers["requires-dist"]
    found, section = [], ""
    for raw in (_read(os.path.join(dist_info, "requires.txt")) or "").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")
            continue
        extra, _, marker = section.partition(":")
        found.append(f"{line}; extra == {extra!r}" if extra else f"{line}; {marker}" if marker else line)
    return found


def core_requirement(requirements: Iterable[str]) -> str:
    """The ``aster-core`` specifier of a distribution's requirements ("" when none).

    Several clauses combine; one that only applies with an extra is left out
    (the host is never installed as an extra); other environment markers are
    not evaluated, so the range applies everywhere.
    """
    clauses = []
    for line in requirements:
        m = re.match(_REQUIREMENT, line)
        if not m or normalise_name(m.group(1)) != "aster-core":
            continue
        spec, _, marker = m.group(2).partition(";")
        if re.search(r"\bextra\b", marker):
            continue
        spec = spec.strip()
        if spec.startswith("@"):
            continue  # a URL: no version range
        if spec.startswith("(") and spec.endswith(")"):
            spec = spec[1:-1].strip()
        if spec:
            clauses.append(spec)
    return ",".join(clauses)


def _metadata(dist_info: str) -> tuple[str, str, str]:
    """(name, version, aster-core specifier) of a metadata folder."""
    text = _read(os.path.join(dist_info, "METADATA")) or _read(os.path.join(dist_info, "PKG-INFO")) or ""
    headers = _headers(text)
    name = headers.get("name", [""])[0]
    version = headers.get("version", [""])[0]
    return name, version, core_requirement(_requirements(dist_info, headers))


def metadata_folders(path: list[str] | None = None) -> list[tuple[str, list[str]]]:
    """(folder, its ``*.dist-info``/``*.egg-info`` children in listing order) for each entry of
    ``path`` (default ``sys.path``) that can be listed: every place a distribution is found."""
    listing = []
    for entry in sys.path if path is None else path:
        root = entry or "."
        try:
            names = os.listdir(root)
        except OSError:
            continue
        listing.append((root, [n for n in names if n.lower().endswith((".dist-info", ".egg-info"))]))
    return listing


def plugins_in(listing: list[tuple[str, list[str]]], group: str = ENTRY_POINT_GROUP) -> list[FoundPlugin]:
    """Every entry point in ``group`` among the distributions of ``listing`` (see :func:`metadata_folders`),
    sorted by distribution then entry-point name."""
    seen: set[str] = set()
    found: list[FoundPlugin] = []
    for root, items in listing:
        for item in items:
            stem_name = item.rpartition(".")[0].partition("-")[0]
            key = normalise_name(stem_name)
            if key in seen:
                continue
            seen.add(key)
            dist_info = os.path.join(root, item)
            text = _read(os.path.join(dist_info, "entry_points.txt"))
            if not text or f"[{group}]" not in text:
                continue
            entry_points = _entry_points(text, group)
            if not entry_points:
                continue
            name, version, requires = _metadata(dist_info)
            for ep_name, value in entry_points:
                found.append(FoundPlugin(ep_name, value, name or stem_name, version, dist_info, requires))
    found.sort(key=lambda p: (normalise_name(p.distribution), p.name))
    return found


def find_plugins(group: str = ENTRY_POINT_GROUP, path: list[str] | None = None) -> list[FoundPlugin]:
    """Every entry point in ``group`` on ``path`` (default ``sys.path``), sorted by distribution
    then entry-point name."""
    return plugins_in(metadata_folders(path), group)
