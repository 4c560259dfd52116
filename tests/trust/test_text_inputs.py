"""What `aster trust` signs into a credential is one line of text: attributes, capabilities
and hex keys with a newline, a carriage return or a NUL are bad input (exit 2, nothing
written). Whitespace around a whole hex value (a key file's final newline) is trimmed."""

from __future__ import annotations

import pytest

from aster_core.errors import ExitCode, UsageError

from tests.trust.helpers import assert_rejected_unchanged, ok

CONTROLS = ("\n", "\r", "\x00")
SIGN = ("trust", "sign", "consumer", "--root-key", "root.key", "--out", "new.cred")


@pytest.fixture
def workdir(tmp_path):
    ok("trust", "keygen", "--out-key", "root.key", cwd=tmp_path)
    return tmp_path


@pytest.mark.parametrize("bad", CONTROLS)
def test_attributes_and_capabilities_with_a_control_character_are_refused(workdir, bad):
    for flags, needle in ((("--attr", f"team=billing{bad}"), "--attr team"),
                          (("--attr", f"te{bad}am=billing"), "--attr key"),
                          (("--attr", f"aster.role=reader{bad}x"), "--attr aster.role")):
        assert_rejected_unchanged(workdir, (*SIGN, *flags), ExitCode.USAGE, needle)
    from aster_trust.attributes import parse_capabilities

    with pytest.raises(UsageError, match="--capabilities"):
        parse_capabilities(f"ops.status,ops{bad}logs")
    assert parse_capabilities("ops.status, ops.logs") == "ops.status,ops.logs"


@pytest.mark.parametrize("bad", CONTROLS)
def test_hex_values_are_matched_whole(bad):
    from aster_trust.keys import parse_hex32

    assert parse_hex32(" " + "ab" * 32 + "\n", "endpoint id", "hint") == bytes.fromhex("ab" * 32)  # trimmed
    for text in ("ab" * 32 + bad + "x", "ab" * 16 + bad + "ab" * 16, "ab" * 32 + "\x00"):
        with pytest.raises(UsageError):
            parse_hex32(text, "endpoint id", "hint")
