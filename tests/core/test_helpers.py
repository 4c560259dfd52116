"""The shared helpers families build on: durations, safe writes, output switches."""

from __future__ import annotations

import os
import threading
import tomllib
from datetime import datetime, timedelta, timezone

import pytest

from aster_core import durations, files
from aster_core.versions import version_satisfies
from aster_core.errors import ExitCode, UsageError

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("text,delta", [("30d", timedelta(days=30)), ("24h", timedelta(hours=24)),
                                        ("90m", timedelta(minutes=90)), ("45s", timedelta(seconds=45)),
                                        ("2w", timedelta(weeks=2)), (" 7D ", timedelta(days=7))])
def test_relative_durations(text, delta):
    assert durations.parse_expiry(text, now=NOW) == NOW + delta


def test_iso_without_zone_is_utc_and_with_zone_is_converted():
    assert durations.parse_expiry("2027-01-31T23:59:59", now=NOW) == datetime(2027, 1, 31, 23, 59, 59, tzinfo=timezone.utc)
    assert durations.parse_expiry("2027-01-31T23:59:59+02:00", now=NOW) == datetime(2027, 1, 31, 21, 59, 59, tzinfo=timezone.utc)
    assert durations.parse_expiry("2027-01-31T00:00:00Z", now=NOW).tzinfo == timezone.utc
    assert durations.iso_utc(durations.to_epoch(NOW)) == "2026-11-22T12:00:00Z"


@pytest.mark.parametrize("text", ["", "30", "d30", "30x", "-5d", "0h", "tomorrow", "2027-13-01"])
def test_bad_durations(text):
    with pytest.raises(UsageError) as err:
        durations.parse_expiry(text, now=NOW)
    assert err.value.exit_code == ExitCode.USAGE and "30d" in err.value.hint


def test_past_expiry_is_refused():
    with pytest.raises(UsageError, match="in the past"):
        durations.parse_expiry("2020-01-01T00:00:00Z", now=NOW)
    assert durations.parse_expiry("2020-01-01", now=NOW, allow_past=True).year == 2020


def test_atomic_write_exclusive_never_replaces(tmp_path):
    target = tmp_path / "secret.key"
    files.atomic_write(target, "one", mode=0o600, exclusive=True)
    with pytest.raises(UsageError, match="already exists"):
        files.atomic_write(target, "two", exclusive=True)
    assert target.read_text() == "one" and oct(target.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in tmp_path.iterdir()] == ["secret.key"]  # no temp files left behind


def test_update_toml_keeps_unknown_and_writes_nothing_on_error(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[other]\nx = 1\n')
    files.update_toml(path, lambda doc: doc.setdefault("mine", {}).update(y=2))
    assert tomllib.loads(path.read_text()) == {"other": {"x": 1}, "mine": {"y": 2}}
    before = path.read_bytes()

    def fail(doc):
        doc["mine"]["y"] = 3
        raise UsageError("nope")

    with pytest.raises(UsageError):
        files.update_toml(path, fail)
    assert path.read_bytes() == before


def test_update_toml_under_thread_contention(tmp_path):
    path = tmp_path / "c.toml"

    def add(i):
        files.update_toml(path, lambda doc: doc.setdefault("items", {}).update({f"k{i}": i}))

    threads = [threading.Thread(target=add, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(tomllib.loads(path.read_text())["items"]) == 20


@pytest.mark.parametrize("version,spec,ok", [("0.1.0", ">=0.1,<0.2", True), ("0.2.0", ">=0.1,<0.2", False),
                                             ("0.1.5", "~=0.1.0", True), ("0.2.0", "~=0.1.0", False),
                                             ("0.1.0", "==0.1.*", True), ("1.0", "", True), ("0.1.0", ">=9", False),
                                             ("0.1.0", "!=0.1.0", False), ("0.1.0", "garbage", False)])
def test_version_ranges(version, spec, ok):
    assert version_satisfies(version, spec) is ok


def test_json_output_has_no_colour_even_when_forced(aster_env):
    from aster_core.testing import run_aster

    result = run_aster(["profile", "list", "--json"], env={"FORCE_COLOR": "1"})
    assert "\x1b[" not in result.stdout
    assert result.stdout.strip() == "[]"


def test_no_color_and_dumb_terminal(aster_env):
    from aster_core.testing import run_aster

    run_aster(["profile", "create", "dev"])
    for env in ({"NO_COLOR": "1", "FORCE_COLOR": ""}, {"TERM": "dumb", "NO_COLOR": ""}):
        assert "\x1b[" not in run_aster(["profile", "list"], env=env).stdout
    coloured = run_aster(["profile", "list"], env={"FORCE_COLOR": "1", "NO_COLOR": "", "TERM": "xterm"})
    assert "\x1b[" in coloured.stdout


def test_progress_is_silent_off_a_terminal(capsys):
    from aster_core.output import progress

    with progress("dialling the peer"):
        print("work", end="")
    captured = capsys.readouterr()
    assert captured.out == "work" and captured.err == ""


def test_progress_spins_on_a_terminal():
    """In a real pseudo-terminal the message is drawn on stderr."""
    import pty
    import subprocess
    import sys

    code = ("import time\nfrom aster_core.output import progress\n"
            "with progress('dialling the peer'):\n    time.sleep(0.5)\n")
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=follower, stdout=follower, stderr=follower,
                            env={**os.environ, "TERM": "xterm"})
    os.close(follower)
    seen = b""
    try:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        proc.wait(timeout=30)
        os.close(leader)
    assert b"dialling the peer" in seen
