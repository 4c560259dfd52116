"""The hand-written discovery and PEP 440 code agrees with importlib.metadata and packaging.

Distributions are built as real metadata folders in tmp_path and read both ways:
our ``find_plugins(path=...)`` against the standard library's
``importlib.metadata.entry_points()`` with ``sys.path`` set to the same folders
(in a fresh interpreter: once the ``importlib_metadata`` backport is imported, as
test tools do, it replaces the standard library's finder in that process), and
``version_satisfies`` against ``packaging.specifiers.SpecifierSet.contains(...,
prereleases=True)``.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from aster_core.discovery import find_plugins
from aster_core.loading import load_target
from aster_core.versions import parse_version, version_satisfies

GROUP = "aster.plugins.v1"
HOSTS = ["0.0.9", "0.1.0", "0.1.0a1", "0.1.0rc2", "0.1.0.post1", "0.1.1", "0.2.0.dev0", "0.2.0rc1", "0.2.0", "9.0"]


def folder(root: Path, name: str, files: dict[str, str | bytes]) -> Path:
    path = root / name
    path.mkdir(parents=True)
    for file, content in files.items():
        target = path / file
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(textwrap.dedent(content), newline="")
    return path


def metadata(name: str, version: str, *requires: str) -> str:
    return "".join([f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
                    *(f"Requires-Dist: {r}\n" for r in requires), "\nA description.\n"])


def entry_points(*lines: str) -> str:
    return "[aster.plugins.v1]\n" + "".join(f"{line}\n" for line in lines)


#: Run with -I -S: the standard library alone, on exactly the folders given.
READ_WITH_IMPORTLIB = """
import importlib.metadata, json, sys
sys.path[:] = json.loads(sys.argv[1])
print(json.dumps([
    {"name": ep.name, "value": ep.value, "folder": str(ep.dist.locate_file("")), "distribution": ep.dist.name,
     "version": ep.dist.version, "requires": ep.dist.requires}
    for ep in importlib.metadata.entry_points(group=sys.argv[2])]))
"""


def read_with_importlib(entries: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-I", "-S", "-c", READ_WITH_IMPORTLIB, json.dumps(entries), GROUP],
                          capture_output=True, text=True, timeout=60)


def reference_ranges(requires: list[str] | None) -> list[SpecifierSet] | None:
    """The aster-core ranges packaging reads from the requirements importlib.metadata gives
    (an extra's are left out); None when packaging rejects one of them."""
    ranges = []
    for line in requires or []:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            name = re.match(r"\s*([A-Za-z0-9._-]*)", line).group(1)  # type: ignore[union-attr]
            if canonicalize_name(name) == "aster-core":
                return None
            continue
        if canonicalize_name(req.name) == "aster-core" and not (req.marker and "extra" in str(req.marker)):
            ranges.append(req.specifier)
    return ranges


def compare(path: list[Path], *, nameless: dict[str, str] | None = None) -> list:
    """Assert both readings of ``path`` agree, entry point by entry point; returns ours."""
    entries = [str(p) for p in path]
    ours = find_plugins(GROUP, entries)
    result = read_with_importlib(entries)
    assert result.returncode == 0, result.stderr
    theirs = json.loads(result.stdout)
    key = lambda t: (t[0], t[1], t[3])  # noqa: E731
    assert sorted([(p.name, p.value, os.path.dirname(p.dist_path), p.version) for p in ours], key=key) == \
        sorted([(ep["name"], ep["value"], ep["folder"], (ep["version"] or "").strip()) for ep in theirs], key=key)
    for plugin in ours:
        ep = next(e for e in theirs if (e["name"], e["value"], e["folder"]) ==
                  (plugin.name, plugin.value, os.path.dirname(plugin.dist_path)))
        expected = ep["distribution"].strip() if ep["distribution"] else (nameless or {})[plugin.name]
        assert plugin.distribution == expected, plugin
        ranges = reference_ranges(ep["requires"])
        for host in HOSTS:
            want = ranges is not None and all(r.contains(host, prereleases=True) for r in ranges)
            assert version_satisfies(host, plugin.requires_core) is want, (plugin, host, ranges)
    return ours


def test_metadata_as_importlib_reads_it(tmp_path):
    root = tmp_path / "site"
    folder(root, "fam_a-1.0.dist-info", {
        "METADATA": metadata("fam-a", "1.0", "aster-core (>=0.1,<0.2)", "click>=8"),
        "entry_points.txt": """\
            # a comment
            [console_scripts]
            fam-a = fam_a.cli:main

            [aster.plugins.v1]
            a = fam_a.plugin
              spaced   =   fam_a.spaced:attr
            ;semi = fam_a.semi
            [other]
            x = y
            """})
    folder(root, "Fam_B-2.0.dist-info", {  # upper case, lower-case headers
        "METADATA": "metadata-version: 2.1\nname: Fam_B\nversion: 2.0\nrequires-dist: Aster_Core>=0.1.0a1\n\n",
        "entry_points.txt": entry_points("b = fam_b.plugin")})
    folder(root, "fam_c-0.3.dist-info", {"entry_points.txt": entry_points("c = fam_c.plugin")})  # no METADATA
    folder(root, "fam_d-1.0.dist-info", {  # CRLF, a folded header, the first Name wins, a non-header ends them
        "METADATA": "Name: fam-d\r\nSummary: one\r\n  folded\r\nName: other\r\nVersion: 1.0\r\n"
                    "this line is not a header\r\nRequires-Dist: aster-core>=9\r\n\r\n",
        "entry_points.txt": entry_points("d = fam_d.plugin")})
    folder(root, "fam_e-1.0.dist-info", {"METADATA": "", "PKG-INFO": metadata("fam-e", "1.0", "aster-core==0.1.*"),
                                         "entry_points.txt": entry_points("e = fam_e.plugin")})
    folder(root, "fam_f-1.0.dist-info", {"METADATA": metadata("fam-f", "1.0")})  # no entry points at all
    folder(root, "fam_g-1.0.dist-info", {
        "METADATA": metadata("fam-g", "1.0", "aster-core!=0.1.0"),
        "entry_points.txt": "[ aster.plugins.v1 ]\nspaced = no\n[[aster.plugins.v1]]\ng = fam_g.plugin\n"})
    folder(root, "fam.h-1.0.dist-info", {
        "METADATA": metadata("fam.h", "1.0", 'aster-core[extra]~=0.1.0 ; python_version >= "3"',
                             'aster-core>=9; extra == "future"'),
        "entry_points.txt": entry_points("h = fam_h.plugin")})
    folder(root, "fam_i.dist-info", {"METADATA": metadata("fam-i", "3"), "entry_points.txt": entry_points("i = i")})
    folder(root, "fam_j-1.0.dist-info", {
        "METADATA": metadata("fam-j", "1.0", "aster-core @ https://example.invalid/aster_core.whl",
                             "aster_core<0.2"),
        "entry_points.txt": entry_points("j = fam_j.plugin", "j2 = fam_j.other")})
    folder(root, "fam_k-1.0.dist-info", {"METADATA": metadata("fam-k", "1.0", "aster-core>=0.1,<=garbage"),
                                         "entry_points.txt": entry_points("k = fam_k.plugin")})
    ours = compare([root], nameless={"c": "fam_c"})
    assert {p.name for p in ours} == {"a", "spaced", ";semi", "b", "c", "d", "e", "g", "h", "i", "j", "j2", "k"}
    by_name = {p.name: p for p in ours}
    assert by_name["d"].distribution == "fam-d" and by_name["d"].requires_core == ""
    assert by_name["h"].requires_core == "~=0.1.0"


def test_two_versions_on_the_path_the_first_wins(tmp_path):
    new, old = tmp_path / "new", tmp_path / "old"
    folder(new, "fam_v-2.0.dist-info", {"METADATA": metadata("fam-v", "2.0", "aster-core>=0.1.0a1"),
                                        "entry_points.txt": entry_points("v = fam_v.new")})
    folder(old, "fam_v-1.0.dist-info", {"METADATA": metadata("fam-v", "1.0", "aster-core<0.1"),
                                        "entry_points.txt": entry_points("v = fam_v.old", "gone = fam_v.gone")})
    # a folder whose name keeps its dashes is another distribution to importlib.metadata ("fam")
    folder(old, "fam-v-0.5.dist-info", {"METADATA": metadata("fam-v", "0.5"),
                                        "entry_points.txt": entry_points("dashed = fam_v.dashed")})
    # an egg-info *file* counts as the distribution too, though it has no entry points
    old.joinpath("fam_w-9.egg-info").write_text(metadata("fam-w", "9"))
    folder(old, "fam_w-1.0.dist-info", {"METADATA": metadata("fam-w", "1.0"),
                                        "entry_points.txt": entry_points("w = fam_w.plugin")})
    first = compare([new, old])
    assert sorted((p.name, p.version) for p in first) == [("dashed", "0.5"), ("v", "2.0")]
    second = compare([old, new])
    assert sorted((p.name, p.version) for p in second) == [("dashed", "0.5"), ("gone", "1.0"), ("v", "1.0")]


def test_two_versions_in_one_folder(tmp_path):
    root = tmp_path / "site"
    for version in ("1.0", "2.0", "3.0rc1"):
        folder(root, f"fam_z-{version}.dist-info", {"METADATA": metadata("fam-z", version),
                                                    "entry_points.txt": entry_points(f"z = fam_z.v{version[0]}")})
    assert len(compare([root])) == 1  # whichever the folder lists first, for both


def test_editable_install_through_a_pth_file(tmp_path, monkeypatch):
    site_dir, src = tmp_path / "site", tmp_path / "src"
    folder(site_dir, "fam_x-0.1.dist-info", {
        "METADATA": metadata("fam-x", "0.1", "aster-core>=0.1,<0.2"),
        "entry_points.txt": entry_points("x = fam_x.plugin"),
        "direct_url.json": '{"url": "file:///src", "dir_info": {"editable": true}}'})
    site_dir.joinpath("__editable__.fam_x-0.1.pth").write_text(f"{src}\n")
    # setuptools leaves an egg-info in the source tree, with the requirements in requires.txt
    folder(src, "fam_x.egg-info", {"PKG-INFO": "Metadata-Version: 2.1\nName: fam-x\nVersion: 0.1.dev0\n\n",
                                   "entry_points.txt": entry_points("x = fam_x.stale_plugin"),
                                   "requires.txt": "aster-core>=0.1.0a1\n\n[dev]\naster-core>=9\n"})
    monkeypatch.setattr(sys, "path", [])
    site.addsitedir(str(site_dir))
    assert sys.path == [str(site_dir), str(src)]
    installed = compare([Path(p) for p in sys.path])
    assert [(p.value, p.version) for p in installed] == [("fam_x.plugin", "0.1")]
    from_source = compare([src, site_dir])  # run from the source tree: its egg-info comes first
    assert [(p.value, p.version, p.requires_core) for p in from_source] == [
        ("fam_x.stale_plugin", "0.1.dev0", ">=0.1.0a1")]


FINDER = '''\
"""An editable install's finder, as setuptools writes one: maps a package to its source folder."""
import importlib.machinery
import importlib.util
import sys

MAPPING = {"fam_y": %r}


class Finder:
    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname in MAPPING:
            return importlib.util.spec_from_file_location(
                fullname, MAPPING[fullname] + "/__init__.py", submodule_search_locations=[MAPPING[fullname]])
        return None


def install():
    sys.meta_path.append(Finder)
'''


def test_editable_install_through_a_finder(tmp_path, monkeypatch):
    site_dir, src = tmp_path / "site", tmp_path / "elsewhere"
    folder(src, "fam_y", {"__init__.py": "", "plugin.py": "MARK = 'from the source folder'\n"})
    folder(site_dir, "fam_y-0.1.dist-info", {"METADATA": metadata("fam-y", "0.1", "aster-core~=0.1.0"),
                                             "entry_points.txt": entry_points("y = fam_y.plugin")})
    site_dir.joinpath("__editable___fam_y_0_1_finder.py").write_text(FINDER % str(src / "fam_y"))
    site_dir.joinpath("__editable__.fam_y-0.1.pth").write_text(
        "import __editable___fam_y_0_1_finder; __editable___fam_y_0_1_finder.install()\n")
    monkeypatch.setattr(sys, "path", [])
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    for name in ("__editable___fam_y_0_1_finder", "fam_y", "fam_y.plugin"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    site.addsitedir(str(site_dir))
    assert sys.path == [str(site_dir)]  # the source folder is reached through the finder only
    (found,) = compare([site_dir])
    module = load_target(found.value)
    assert module.MARK == "from the source folder" and module.__file__.startswith(str(src))


def test_what_importlib_metadata_cannot_read_is_skipped(tmp_path):
    """An undecodable entry_points.txt, or a line without ``=`` in our group, makes
    importlib.metadata raise for the whole path; discovery skips that file or line only."""
    undecodable, no_equals = tmp_path / "undecodable", tmp_path / "no-equals"
    folder(undecodable, "fam_u-1.0.dist-info", {"METADATA": metadata("fam-u", "1.0"),
                                                "entry_points.txt": b"[aster.plugins.v1]\nu = fam_u.\xff\n"})
    folder(no_equals, "fam_n-1.0.dist-info", {"METADATA": metadata("fam-n", "1.0"),
                                              "entry_points.txt": entry_points("n = fam_n.plugin", "no equals sign")})
    folder(no_equals, "fam_ok-1.0.dist-info", {"METADATA": metadata("fam-ok", "1.0"),
                                               "entry_points.txt": entry_points("ok = fam_ok.plugin")})
    for where, error in ((undecodable, "UnicodeDecodeError"), (no_equals, "TypeError")):
        result = read_with_importlib([str(where)])
        assert result.returncode != 0 and error in result.stderr, result.stderr
    assert find_plugins(GROUP, [str(undecodable)]) == []
    assert sorted(p.name for p in find_plugins(GROUP, [str(no_equals)])) == ["n", "ok"]


# -- PEP 440 -----------------------------------------------------------------------

VERSIONS = [
    "0", "0.1", "0.1.0", "0.1.1", "0.2", "0.2.0", "0.2.0a1", "0.2.0.dev0", "0.2.0rc1", "0.1.0a1", "0.1.0b2",
    "0.1.0rc1", "0.1.0.dev1", "0.1.0a1.dev1", "0.1.0.post1", "0.1.0.post1.dev2", "0.1.0+local", "0.1.0+local.7",
    "0.1.0+7", "0.1.0+abc.7", "1!0.1.0", "1.0", "1.0.0", "1.0.0.0", "1.0-1", "1.0r2", "1.0rev3", "1.0.0-alpha.1",
    "1.0.0-beta", "1.0c1", "1.0pre2", "1.0preview3", "1.0_dev_4", "V1.0", "v0.1.0", "0.1.0-post-3", "1.0.post",
    "1.0a", "1.0.dev", "1.0a1.post1", "1.0.post1.dev0", "1.0+l", "1.0.post1+l", "1.0rc1+l", "1.0.1+l", "9.0", "10.0",
    "0.10", "0.09", "garbage", "", "1.0.", "1..0", "0.1.0+", "1.0+a_b-c", "1!2!3", " 0.1.0 ", "0.1.*",
]
ATOMS = ["0.1", "0.1.0", "0.2", "1.0", "0.1.0a1", "0.2.0rc1", "0.1.0.post1", "0.1.0.dev0", "1!0.1", "0.1.0+local",
         "0", "9.0", "0.1.*", "0.*", "1.*", "1!0.*", "0.1a1.*", "garbage", "", "1.0+7", "0.1-1", "1.0a1", "1.0.post1",
         "1.0.dev1", "1.0.post1.dev1", "1.0rc1", "v0.1"]
OPERATORS = ["===", "~=", "==", "!=", "<=", ">=", "<", ">", "", "=", "=>"]


def reference(version: str, specifier: str) -> bool:
    try:
        return SpecifierSet(specifier).contains(version, prereleases=True)
    except InvalidSpecifier:
        return False


@pytest.mark.parametrize("op", OPERATORS)
def test_each_operator_agrees_with_packaging(op):
    specs = [f"{op}{atom}" for atom in ATOMS] + [f"{op} {atom}" for atom in ATOMS]
    wrong = [(v, s) for s in specs for v in VERSIONS if version_satisfies(v, s) is not reference(v, s)]
    assert wrong == []


def test_the_ranges_families_write_agree_with_packaging():
    specs = [">=0.1.0a1", "<0.2", "!=0.1.0", "~=0.1.0", "==0.1.*", ">=0.1,<0.2", "~=0.1", ">=0.1.0a1,<0.2,!=0.1.1",
             " >= 0.1 , < 0.2 ", ">=0.1,", ",", "", "  ", "~=1", "~=0.1.*", ">=0.1.0+local", "==0.1.0a1.*", "0.1"]
    pairs = [f"{a},{b}" for a, b in itertools.combinations([f"{o}{x}" for o in ("<", ">=", "!=", "~=", "==")
                                                           for x in ("0.1", "0.1.0a1", "0.2.0rc1", "0.1.*")], 2)]
    wrong = [(v, s) for s in specs + pairs for v in VERSIONS if version_satisfies(v, s) is not reference(v, s)]
    assert wrong == []


def test_versions_parse_and_order_as_packaging_says():
    valid = []
    for text in VERSIONS:
        try:
            Version(text)
        except InvalidVersion:
            assert parse_version(text) is None, text
            continue
        assert parse_version(text) is not None, text
        valid.append(text)
    for a, b in itertools.product(valid, repeat=2):
        assert (parse_version(a).key < parse_version(b).key) is (Version(a) < Version(b)), (a, b)
        assert (parse_version(a).key == parse_version(b).key) is (Version(a) == Version(b)), (a, b)
