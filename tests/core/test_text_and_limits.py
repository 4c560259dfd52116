"""The host's one validation helper (aster_core.text), the one place JSON limits live
(aster_core.jsonlimits), private folders and files (aster_core.filemodes), and the host's own
inputs checked with them: a trailing newline, a carriage return or a NUL never passes."""

from __future__ import annotations

import json
import os
import stat
import time

import pytest

from aster_core.errors import ExitCode, UsageError
from aster_core.testing import assert_clean_error, invoke

CONTROLS = ("\n", "\r", "\x00")


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# ---------------------------------------------------------------------------- aster_core.text


def test_check_text_refuses_control_characters_length_and_partial_matches():
    import re

    from aster_core.text import CONTROL, check_text, control_in, shown, whole_match

    word = re.compile(r"[a-z]+")
    assert check_text("alice", field="handle", max_length=10, pattern=word) == "alice"
    for bad in CONTROLS:
        assert not whole_match(word, "alice" + bad)  # re.match(r"^[a-z]+$", "alice\n") matches
        assert control_in("x" + bad) == repr(bad)[1:-1]
        with pytest.raises(UsageError) as info:
            check_text("alice" + bad, field="handle", max_length=10, pattern=word)
        assert info.value.message.startswith("handle: ") and "control character" in info.value.message
        assert info.value.field == "handle" and info.value.exit_code == ExitCode.USAGE
        with pytest.raises(UsageError):
            check_text("x" + bad, field="note", max_length=10)  # no pattern: controls still refused
    for bad in ("\t", "\x1b[31m", "\x7f", "\x85", "\x9b"):
        assert CONTROL.search(bad) and control_in(bad)
    with pytest.raises(UsageError, match="11 characters, at most 10"):
        check_text("a" * 11, field="handle", max_length=10)
    with pytest.raises(UsageError, match="is not a handle") as info:
        check_text("Alice", field="handle", max_length=10, pattern=word, what="a handle", hint="lowercase")
    assert info.value.hint == "lowercase"
    with pytest.raises(UsageError, match="handle: expected text, got nothing"):
        check_text(None, field="handle", max_length=10)
    assert not whole_match(word, None) and not whole_match(word, 5)
    assert shown("a\nb") == "'a\\nb'" and shown("x" * 100, 5) == "'xxxxx'..."


# ---------------------------------------------------------------------------- aster_core.jsonlimits


def test_deep_json_is_refused_before_the_parser_recurses():
    from aster_core.jsonlimits import MAX_DEPTH, depth, loads_limited

    deep = "[" * 100_000 + "]" * 100_000
    began = time.monotonic()
    with pytest.raises(UsageError) as info:
        loads_limited(deep, field="payload_json")
    assert time.monotonic() - began < 2
    assert info.value.field == "payload_json" and "100000 levels" in info.value.message
    assert info.value.message.startswith("payload_json ")
    nested = {"a": [{"b": [[{"c": "[[[[ {{{{"}]]}]}
    assert depth(json.dumps(nested)) == 6 and loads_limited(json.dumps(nested), field="x") == nested
    assert depth('"[[[\\"[["') == 0 and depth("7") == 0
    exactly = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert depth(exactly) == MAX_DEPTH and loads_limited(exactly, field="x")
    with pytest.raises(UsageError, match="at most|more than"):
        loads_limited("[" + exactly + "]", field="x")
    deep_object = '{"a":' * 5000 + "1" + "}" * 5000
    with pytest.raises(UsageError, match="5000 levels"):
        loads_limited(deep_object.encode(), field="manifest_json")


def test_json_size_syntax_numbers_and_constants():
    from aster_core.jsonlimits import loads_limited

    with pytest.raises(UsageError, match="larger than 100 bytes"):
        loads_limited('"' + "é" * 60 + '"', field="f", max_bytes=100)  # 122 bytes in 62 characters
    with pytest.raises(UsageError, match="more than 10"):
        loads_limited(b"[" + b"1," * 10 + b"1]", field="f", max_bytes=10)
    with pytest.raises(UsageError, match="not valid JSON"):
        loads_limited("{", field="f")
    with pytest.raises(UsageError, match="not UTF-8"):
        loads_limited(b"\xff", field="f")
    with pytest.raises(UsageError, match="not valid JSON here"):
        loads_limited("1" * 5000, field="f")
    assert loads_limited("NaN", field="f") != 0
    with pytest.raises(UsageError, match="NaN"):
        loads_limited("NaN", field="f", constants=False)
    with pytest.raises(UsageError, match="not JSON text"):
        loads_limited(7, field="f")


def test_json_files_users_name_are_read_within_the_limits(tmp_path):
    from aster_core.files import load_json

    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(UsageError) as info:
        load_json(path, "manifest")
    assert str(path) in info.value.message and "nested" in info.value.message


# ---------------------------------------------------------------------------- aster_core.filemodes


def test_private_dir_makes_every_missing_folder_0700_whatever_the_umask(tmp_path):
    from aster_core.filemodes import private_dir, tighten

    mine = tmp_path / "mine"
    mine.mkdir(mode=0o755)
    old = os.umask(0o022)
    try:
        private_dir(mine / "a" / "b" / "c")
    finally:
        os.umask(old)
    assert [_mode(mine / p) for p in ("a", "a/b", "a/b/c")] == [0o700] * 3
    assert _mode(mine) == 0o755  # a folder that was there is the user's: left as it is
    secret = mine / "secret"
    secret.write_text("x")
    secret.chmod(0o644)
    assert tighten(secret) == 0o644 and _mode(secret) == 0o600
    assert tighten(secret) is None and tighten(mine / "missing") is None


# ---------------------------------------------------------------------------- the host's inputs


@pytest.mark.parametrize("bad", CONTROLS)
def test_profile_names_with_a_control_character_are_refused(bad):
    from aster_core.profiles import validate_name

    with pytest.raises(UsageError, match="invalid profile name"):
        validate_name("prod" + bad)
    assert_clean_error(invoke(["profile", "create", "prod" + bad]), ExitCode.USAGE, "invalid profile name")
    assert validate_name("prod") == "prod"


@pytest.mark.parametrize("bad", CONTROLS)
def test_durations_take_surrounding_spaces_but_no_other_character(bad):
    from aster_core.durations import parse_duration, parse_expiry

    assert parse_duration(" 30d\n").days == 30  # whitespace around a duration is trimmed by design
    for text in ("30d" + bad + "x", "30" + bad + "\x00d", "30d\x00"):
        with pytest.raises(UsageError):
            parse_duration(text)
        with pytest.raises(UsageError):
            parse_expiry(text)
