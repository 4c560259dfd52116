"""`aster enroll node` under attack (issue 10): symlinked and commented identity files, planted
lock symlinks, writers killed with SIGKILL, parallel writers, files that are not identities,
hostile documents and deleted profiles."""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import time
import tomllib
from pathlib import Path

import pytest

from aster_core.errors import ExitCode
from aster_core.testing import aster_executable, assert_clean_error, run_aster

from tests.core.attack import HUGE_INT, lock_files, nested_toml
from tests.trust.helpers import FAMILIES, aster, assert_rejected_unchanged, ok

ENROLL = ("enroll", "node", "--role", "consumer", "--root-key", "root.key")


@pytest.fixture
def workdir(tmp_path):
    ok("trust", "keygen", "--out-key", "root.key", cwd=tmp_path)
    return tmp_path


def temp_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.endswith(".tmp"))


COMMENTED = """\
# identity of the billing node: keep this comment
[node] # the node key
secret_key = "{secret}"
endpoint_id = "{endpoint}"

# registry state another tool keeps
[aster_service]
enabled = true # on
"""


def _commented_identity(workdir: Path) -> str:
    ok(*ENROLL, "--identity", "seed.identity", cwd=workdir)
    node = tomllib.loads((workdir / "seed.identity").read_text())["node"]
    (workdir / "seed.identity").unlink()
    return COMMENTED.format(secret=node["secret_key"], endpoint=node["endpoint_id"])


# ── item 12: symlinks followed, comments kept ─────────────────────────────────────

def test_a_symlinked_identity_is_followed_and_comments_survive(workdir):
    real = workdir / "vault" / "identity.toml"
    real.parent.mkdir()
    real.write_text(_commented_identity(workdir))
    before_node = tomllib.loads(real.read_text())["node"]
    (workdir / ".aster-identity").symlink_to(real)
    for name in ("reader", "writer", "reader"):
        ok(*ENROLL, "--name", name, cwd=workdir)
        link = workdir / ".aster-identity"
        assert link.is_symlink() and os.readlink(link) == str(real)
        text = real.read_text()
        for line in ("# identity of the billing node: keep this comment", "[node] # the node key",
                     "# registry state another tool keeps", "enabled = true # on"):
            assert line in text, text
    doc = tomllib.loads(real.read_text())
    assert doc["node"] == before_node and [p["name"] for p in doc["peers"]] == ["reader", "writer"]
    assert doc["aster_service"] == {"enabled": True}
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert lock_files(workdir) == [] and temp_files(workdir) == [] and temp_files(real.parent) == []


def test_a_dangling_lock_symlink_is_refused(workdir):
    ok(*ENROLL, cwd=workdir)
    bait = workdir / "elsewhere" / "planted"
    (workdir / ".aster-identity.lock").symlink_to(bait)
    before = (workdir / ".aster-identity").read_bytes()
    assert_clean_error(aster(*ENROLL, "--name", "again", cwd=workdir), ExitCode.USAGE, ".aster-identity.lock",
                       "symbolic link")
    assert not bait.exists() and not bait.parent.exists()
    assert (workdir / ".aster-identity").read_bytes() == before


# ── item 12: SIGKILL mid-write never leaves the node secret readable, and is cleaned up ─

def test_a_stale_temp_file_of_ours_is_removed_by_the_next_write(workdir):
    ok(*ENROLL, cwd=workdir)
    stale = workdir / "..aster-identity.k3j9x_2a.tmp"  # how atomic_write names its temp files
    stale.write_text((workdir / ".aster-identity").read_text())
    stale.chmod(0o600)
    unrelated = workdir / "..aster-identity.my.notes.tmp"  # not a name we make: left alone
    unrelated.write_text("mine")
    ok(*ENROLL, "--name", "second", cwd=workdir)
    assert not stale.exists() and unrelated.read_text() == "mine"


def test_sigkill_during_enroll_leaves_nothing_readable_and_the_next_run_cleans_up(workdir):
    rng = random.Random(7)
    exe = aster_executable()
    env = {**os.environ, "ASTER_PLUGINS": ",".join(FAMILIES)}
    seen_temp = 0
    for round_ in range(12):
        proc = subprocess.Popen([exe, *ENROLL, "--name", f"n{round_}"], cwd=workdir, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + rng.uniform(0.05, 0.6)
        while time.monotonic() < deadline and proc.poll() is None:
            for tmp in temp_files(workdir):  # caught mid-write: never readable by others
                seen_temp += 1
                try:
                    assert stat.S_IMODE(tmp.lstat().st_mode) & 0o077 == 0, oct(tmp.lstat().st_mode)
                except FileNotFoundError:
                    pass
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        for tmp in temp_files(workdir):
            assert stat.S_IMODE(tmp.lstat().st_mode) & 0o077 == 0
    ok(*ENROLL, "--name", "after", cwd=workdir)
    assert temp_files(workdir) == [] and lock_files(workdir) == []
    doc = tomllib.loads((workdir / ".aster-identity").read_text())
    assert "after" in [p["name"] for p in doc["peers"]]
    assert stat.S_IMODE((workdir / ".aster-identity").stat().st_mode) == 0o600


# ── parallel writers: nothing lost, nothing left beside the file ───────────────────

def test_parallel_enrollments_lose_nothing_and_leave_no_lock(workdir):
    exe = aster_executable()
    env = {**os.environ, "ASTER_PLUGINS": ",".join(FAMILIES)}
    procs = [subprocess.Popen([exe, *ENROLL, "--name", f"p{i}"], cwd=workdir, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for i in range(12)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    doc = tomllib.loads((workdir / ".aster-identity").read_text())
    assert sorted(p["name"] for p in doc["peers"]) == sorted(f"p{i}" for i in range(12))
    assert lock_files(workdir) == [] and temp_files(workdir) == []


# ── item 5: a file that is not an identity is not ours to change ───────────────────

def test_a_toml_file_that_is_not_an_identity_needs_force(workdir):
    project = workdir / "pyproject.toml"
    project.write_text('# my project\n[project]\nname = "mine"\n')
    assert_rejected_unchanged(workdir, (*ENROLL, "--identity", "pyproject.toml"), ExitCode.USAGE,
                              "not an identity file")
    ok(*ENROLL, "--identity", "pyproject.toml", "--force", cwd=workdir)
    text = project.read_text()
    assert text.startswith("# my project\n[project]") and tomllib.loads(text)["project"] == {"name": "mine"}
    assert tomllib.loads(text)["peers"][0]["name"] == "consumer"
    ok(*ENROLL, "--identity", "pyproject.toml", "--name", "again", cwd=workdir)  # now it is one


# ── item 7: hostile identity files and expiries; item 14: deleted profiles ──────────

@pytest.mark.parametrize("content, needle", [
    (nested_toml("peers"), "nested too deeply"),
    (f"[node]\nsecret_key = {HUGE_INT}\n", ".aster-identity"),
    (b"[node]\nsecret_key = \"\xff\xfe\"\n", "not a text file"),
    ("[node]\nsecret_key = 5\n", "secret_key"),
    ('peers = "x"\n', "peers"),
    ("node = [1]\n", "node"),
])
def test_hostile_identity_files_are_bad_input_naming_the_file(workdir, content, needle):
    path = workdir / ".aster-identity"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert_rejected_unchanged(workdir, ENROLL, ExitCode.USAGE, needle)
    assert ".aster-identity" in aster(*ENROLL, cwd=workdir).stderr


@pytest.mark.parametrize("expires", ["99999999999d", "9" * 5000 + "d", "9999-12-31T23:30:00-05:00"])
def test_overflowing_expiries_are_bad_input(workdir, expires):
    assert_rejected_unchanged(workdir, (*ENROLL, "--expires", expires), ExitCode.USAGE, "")


def test_enrolling_with_a_deleted_profile_says_no_such_profile(workdir):
    assert run_aster(["profile", "create", "prod"]).returncode == 0
    assert run_aster(["profile", "create", "staging"]).returncode == 0
    ok("enroll", "node", "--role", "consumer", "--profile", "prod", cwd=workdir)
    assert run_aster(["profile", "delete", "prod", "--yes"]).returncode == 0
    before = (workdir / ".aster-identity").read_bytes()
    for args in (("enroll", "node", "--role", "consumer", "--profile", "prod", "--name", "x"),
                 ("trust", "sign", "consumer", "--profile", "prod")):
        line = assert_clean_error(aster(*args, cwd=workdir), ExitCode.NOT_FOUND, "no profile named 'prod'")
        assert "known profiles: staging" in line
    assert (workdir / ".aster-identity").read_bytes() == before
