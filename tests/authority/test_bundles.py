"""Device bundles written in one durable pass (client/bundles.py), and `provision --count` killed
with SIGKILL at several points: a bundle under its real name is always complete and valid, and
`index.csv`, written last, names only such bundles."""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from aster_core.errors import UsageError
from aster_core.testing import aster_executable

from aster_authority.client.activation import read_bundle
from aster_authority.client.bundles import is_stale_temp, temp_name, write_bundles, write_index
from aster_authority.client.bundles import BUNDLE_SUFFIX, INDEX_COLUMNS, INDEX_FILE


def bundle_files(folder: Path) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.endswith(BUNDLE_SUFFIX))


def test_every_bundle_is_written_whole_0600_and_no_temporary_file_stays(tmp_path):
    old = os.umask(0o000)  # the mode must not depend on the umask
    try:
        texts = [(tmp_path / f"d{n}{BUNDLE_SUFFIX}", f'{{"n": {n}, "pad": "{"x" * n}"}}\n') for n in range(300)]
        created = write_bundles(texts)
    finally:
        os.umask(old)
    assert created == [path for path, _ in texts]
    for path, text in texts:
        assert path.read_text() == text
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p, _ in texts)


@pytest.mark.parametrize("anonymous", [True, False], ids=["anonymous files", "temporary names"])
def test_both_ways_write_the_same_bundles_and_refuse_a_taken_name(tmp_path, anonymous):
    """Anonymous files given their names, or (a filesystem without them) hidden temporary files."""
    texts = [(tmp_path / f"d{n}{BUNDLE_SUFFIX}", f"bundle {n}\n") for n in range(40)]
    assert write_bundles(texts, anonymous=anonymous) == [path for path, _ in texts]
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p, _ in texts)
    assert all(path.read_text() == text and stat.S_IMODE(path.stat().st_mode) == 0o600 for path, text in texts)
    with pytest.raises(UsageError, match="already exists"):
        write_bundles([(tmp_path / f"new{BUNDLE_SUFFIX}", "x"), texts[3]], anonymous=anonymous)
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p, _ in texts) and texts[3][0].read_text() == "bundle 3\n"


def test_meanwhile_runs_before_any_name_exists_and_its_failure_leaves_nothing(tmp_path):
    texts = [(tmp_path / f"d{n}{BUNDLE_SUFFIX}", f"bundle {n}\n") for n in range(20)]
    seen = []
    write_bundles(texts, meanwhile=lambda: seen.append(bundle_files(tmp_path)))
    assert seen == [[]] and len(bundle_files(tmp_path)) == 20  # ran once, before the names

    def fails() -> None:
        raise KeyboardInterrupt

    more = [(tmp_path / f"e{n}{BUNDLE_SUFFIX}", "x") for n in range(5)]
    with pytest.raises(KeyboardInterrupt):
        write_bundles(more, meanwhile=fails)
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p, _ in texts)  # nothing of the failed call


def test_an_existing_bundle_is_refused_and_nothing_of_the_call_stays(tmp_path):
    taken = tmp_path / f"b{BUNDLE_SUFFIX}"
    taken.write_text("mine")
    texts = [(tmp_path / f"a{BUNDLE_SUFFIX}", "a"), (taken, "b"), (tmp_path / f"c{BUNDLE_SUFFIX}", "c")]
    with pytest.raises(UsageError) as info:
        write_bundles(texts)
    assert "already exists" in info.value.message and "--force" in info.value.hint
    assert os.listdir(tmp_path) == [taken.name] and taken.read_text() == "mine"


def test_replacing_returns_only_the_new_ones(tmp_path):
    old = tmp_path / f"old{BUNDLE_SUFFIX}"
    old.write_text("before")
    new = tmp_path / f"new{BUNDLE_SUFFIX}"
    assert write_bundles([(old, "after"), (new, "fresh")], replace=True) == [new]
    assert old.read_text() == "after" and new.read_text() == "fresh"
    assert stat.S_IMODE(old.stat().st_mode) == 0o600


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    texts = [(tmp_path / f"a{BUNDLE_SUFFIX}", "a"), (tmp_path / "missing" / f"b{BUNDLE_SUFFIX}", "b")]
    with pytest.raises(UsageError) as info:
        write_bundles(texts)
    assert "cannot write" in info.value.message
    assert os.listdir(tmp_path) == []


def test_temporary_files_a_killed_writer_left_are_cleared_and_nothing_else(tmp_path):
    bundle = tmp_path / f"dev{BUNDLE_SUFFIX}"
    stale = temp_name(bundle)
    assert is_stale_temp(stale.name) and not stale.name.endswith(BUNDLE_SUFFIX)
    stale.write_text("half")
    others = [".keep.json.0123abcd.tmp", f".x{BUNDLE_SUFFIX}.notahexx.tmp", ".hidden", "notes.tmp"]
    for name in others:
        (tmp_path / name).write_text("keep")
    write_bundles([(tmp_path / f"other{BUNDLE_SUFFIX}", "o")])
    assert sorted(os.listdir(tmp_path)) == sorted([*others, f"other{BUNDLE_SUFFIX}"])


def test_the_index_is_replaced_whole_0600_with_no_lock_file_and_its_stale_temporary_file_cleared(tmp_path):
    index = tmp_path / INDEX_FILE
    stale = temp_name(index)  # what a run killed while writing the index leaves
    assert is_stale_temp(stale.name) and not is_stale_temp(f".notes.csv{stale.name[len(INDEX_FILE) + 1:]}")
    stale.write_text("half")
    index.write_text("before")
    write_index(index, "instance_id\nx\n")
    assert index.read_text() == "instance_id\nx\n" and stat.S_IMODE(index.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == [INDEX_FILE]  # no index.csv.lock, no temporary file


# ── kill -9 while provisioning ─────────────────────────────────────────────────


def check_folder(folder: Path, deployment_id: str) -> tuple[int, int]:
    """Every bundle under its real name is complete and valid; index.csv, when there, parses
    and names only such bundles. Returns (bundles, rows in index.csv)."""
    names = bundle_files(folder)
    endpoints = {}
    for name in names:
        bundle = read_bundle(folder / name)  # a half-written file fails here
        assert bundle.deployment_id == deployment_id
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
        endpoints[name] = bundle.keys.endpoint_id
    rows: list[dict] = []
    if (folder / INDEX_FILE).exists():
        with (folder / INDEX_FILE).open() as fh:
            reader = csv.DictReader(fh)
            assert tuple(reader.fieldnames or ()) == INDEX_COLUMNS
            rows = list(reader)
        for row in rows:
            assert endpoints[row["bundle"]] == row["endpoint_id"]
    leftovers = [n for n in os.listdir(folder) if n not in names and n != INDEX_FILE]
    assert all(is_stale_temp(n) for n in leftovers), leftovers
    return len(names), len(rows)


def provision_killed(m, folder: Path, when) -> subprocess.Popen:
    """Start `provision --count 1000` and SIGKILL it once ``when(folder, pid)`` holds (or at its end)."""
    env = {**os.environ, **m.env()}
    proc = subprocess.Popen([aster_executable(), "dev", "fleet", "provision", "--count", "1000", "--out-dir",
                             str(folder), "--root-key", str(m.root.key_file)], env=env, cwd=m.tmp,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while proc.poll() is None and time.monotonic() < deadline:
        if folder.is_dir() and when(folder, proc.pid):
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.002)
    proc.wait(60)
    return proc


def _count(folder: Path, predicate) -> int:
    try:
        return sum(1 for n in os.listdir(folder) if predicate(n))
    except OSError:
        return 0


def _unnamed(folder: Path, pid: int) -> int:
    """Bundle files ``pid`` is writing into ``folder`` that have no name yet: its anonymous files
    there (``/proc`` shows them as ``FOLDER/#INODE (deleted)``) or hidden temporary files."""
    count = _count(folder, is_stale_temp)
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return count
    for fd in fds:
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/{pid}/fd/{fd}").startswith(f"{folder}/#")
    return count


KILL_POINTS = {
    "while the first bundle files are written": lambda f, pid: _unnamed(f, pid) >= 1,
    "after some bundle files are written": lambda f, pid: _unnamed(f, pid) >= 200,
    "once bundles have their names": lambda f, pid: _count(f, lambda n: n.endswith(BUNDLE_SUFFIX)) >= 1,
    "during the second batch": lambda f, pid: _count(f, lambda n: n.endswith(BUNDLE_SUFFIX)) >= 501,
    "as the index appears": lambda f, pid: (f / INDEX_FILE).exists(),
}


@pytest.mark.slow
def test_a_provision_killed_anywhere_leaves_only_complete_bundles_and_a_true_index(sqlite_mesh, tmp_path):
    m = sqlite_mesh
    m.ok("dev", "fleet", "create", "--role", "tasks.reader")
    seen = {}
    for n, (label, when) in enumerate(KILL_POINTS.items()):
        folder = tmp_path / f"kill{n}"
        proc = provision_killed(m, folder, when)
        seen[label] = (proc.returncode, *check_folder(folder, "fleet"))
    # the kills landed where they were meant to: mid-write, after names, and (once) the run had ended
    assert seen["while the first bundle files are written"][0] == -signal.SIGKILL
    assert seen["after some bundle files are written"][0] == -signal.SIGKILL
    assert any(bundles for _, bundles, _ in seen.values())
    assert seen["as the index appears"][2] in (0, 1000)
    done = tmp_path / "whole"
    finished = provision_killed(m, done, lambda f, pid: False)
    assert finished.returncode == 0
    assert check_folder(done, "fleet") == (1000, 1000)
