"""PEP 440 versions and specifiers, for one question: does this host satisfy a family's range?

A family declares the ``aster-core`` versions it supports (``aster-core>=0.1,<0.2``)
and the host checks its own version against that range on every start, before
importing the family. :mod:`packaging` answers the same question but costs more
to import than the host's whole start-up budget, so this module implements the
standard's ordering and operators itself; ``tests/core/test_discovery.py``
checks it against ``packaging.specifiers`` over every operator, pre-, post-,
dev- and local releases and malformed input.

The answer is ``SpecifierSet(spec).contains(version, prereleases=True)``: a
pre-release host (``0.2.0rc1``) loads families whose range includes it, as
``pip check`` judges installed versions, while ``<0.2`` still excludes the
pre-releases of 0.2 (the standard's rule for exclusive bounds).
"""

from __future__ import annotations

import re
from typing import Any

_VERSION = re.compile(
    r"""v?
    (?:(?P<epoch>[0-9]+)!)?
    (?P<release>[0-9]+(?:\.[0-9]+)*)
    (?:[-_.]?(?P<pre>alpha|beta|preview|pre|a|b|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?
    (?:-(?P<post_implicit>[0-9]+)|[-_.]?(?P<post>post|rev|r)[-_.]?(?P<post_n>[0-9]+)?)?
    (?:[-_.]?(?P<dev>dev)[-_.]?(?P<dev_n>[0-9]+)?)?
    (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?""",
    re.VERBOSE | re.IGNORECASE | re.ASCII)

#: Pre-release spellings and their rank (a < b < rc).
_PRE_RANK = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}
_OPERATORS = ("===", "~=", "==", "!=", "<=", ">=", "<", ">")


class Version:
    """A parsed version: its parts and the key the standard orders it by."""

    __slots__ = ("epoch", "release", "pre", "post", "dev", "local", "key", "public_key")

    def __init__(self, match: re.Match[str]):
        group = match.group
        self.epoch = int(group("epoch") or 0)
        self.release = tuple(int(part) for part in group("release").split("."))
        self.pre = (_PRE_RANK[group("pre").lower()], int(group("pre_n") or 0)) if group("pre") else None
        post = group("post_implicit") or (group("post_n") or "0" if group("post") else None)
        self.post = None if post is None else int(post)
        self.dev = int(group("dev_n") or 0) if group("dev") else None
        local = group("local")
        self.local = None if local is None else tuple(
            int(part) if part.isdigit() else part for part in re.split(r"[-_.]", local.lower()))
        release = self.release
        while len(release) > 1 and release[-1] == 0:
            release = release[:-1]
        if self.pre is None and self.post is None and self.dev is not None:
            pre_key: tuple[int, int] = (-1, 0)  # 1.0.dev0 comes before 1.0a0
        else:
            pre_key = self.pre if self.pre is not None else (3, 0)
        self.public_key = (self.epoch, release, pre_key, -1 if self.post is None else self.post,
                           (1, 0) if self.dev is None else (0, self.dev))
        # numeric local segments sort after alphanumeric ones; no local sorts first
        local_key = () if self.local is None else tuple(
            (1, part, "") if isinstance(part, int) else (0, 0, part) for part in self.local)
        self.key = (*self.public_key, local_key)

    @property
    def is_prerelease(self) -> bool:
        return self.pre is not None or self.dev is not None

    def same_base(self, other: Version) -> bool:
        """Same epoch and release (trailing zeros aside)."""
        return self.public_key[:2] == other.public_key[:2]


def parse_version(text: str) -> Version | None:
    """The version ``text`` names, or None when it is not a PEP 440 version."""
    match = _VERSION.fullmatch(text.strip())
    return Version(match) if match else None


def _clause(text: str) -> tuple[str, str] | None:
    """(operator, version text) of one specifier clause, None when malformed."""
    text = text.strip()
    op = next((o for o in _OPERATORS if text.startswith(o)), None)
    if op is None:
        return None
    target = text[len(op):].strip()
    if op == "===":
        return (op, target) if target and not re.search(r"[\s;)]", target) else None
    if op in ("==", "!=") and target.endswith(".*"):
        return (op, target) if re.fullmatch(r"v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*\.\*", target, re.I) else None
    version = parse_version(target)
    if version is None or (version.local is not None and op not in ("==", "!=")):
        return None
    if op == "~=" and len(version.release) < 2:
        return None
    return op, target


def _matches(have: Version, op: str, target: str) -> bool:
    if target.endswith(".*"):  # prefix match on the release, pre-releases of it included
        want = parse_version(target[:-2])
        assert want is not None
        width = len(want.release)
        padded = have.release + (0,) * max(0, width - len(have.release))
        return ((have.epoch, padded[:width]) == (want.epoch, want.release)) == (op == "==")
    want = parse_version(target)
    assert want is not None
    if op in ("==", "!="):
        equal = (have.key == want.key) if want.local is not None else (have.public_key == want.public_key)
        return equal == (op == "==")
    if op == "~=":
        prefix = ".".join(str(part) for part in want.release[:-1])
        return have.public_key >= want.public_key and _matches(have, "==", f"{want.epoch}!{prefix}.*")
    if op == "<=":
        return have.public_key <= want.public_key
    if op == ">=":
        return have.public_key >= want.public_key
    if op == "<":  # a pre-release of the bound is not below it (0.2.0a1 is not <0.2) unless the bound is one
        if not have.key < want.key:
            return False
        if want.is_prerelease:
            return True
        earliest = parse_version(target + ".dev0")
        return earliest is None or have.key < earliest.key
    # ">": neither a post-release of the bound (unless it is one) nor a local build of it is above it
    return have.key > want.key and not (
        want.post is None and want.dev is None and have.post is not None and have.same_base(want)
        and have.pre == want.pre) and not (have.local is not None and have.public_key == want.public_key)


def version_satisfies(version: str, specifier: str) -> bool:
    """Whether ``version`` meets a PEP 440 specifier such as ``>=0.1,<0.2``.

    An empty specifier accepts everything; a malformed one accepts nothing.
    """
    clauses = [_clause(part) for part in specifier.split(",") if part.strip()]
    if not clauses:
        return True
    have: Any = None
    for clause in clauses:
        if clause is None:
            return False
        op, target = clause
        if op == "===":
            if version.lower() != target.lower():
                return False
            continue
        if have is None:
            have = parse_version(version)
            if have is None:
                return False
        if not _matches(have, op, target):
            return False
    return True
