"""`aster enroll node` takes one-line names and attributes: a newline, a carriage return or a
NUL inside is bad input (exit 2) and the identity file stays byte-identical. Whitespace around
a name is trimmed."""

from __future__ import annotations

import pytest

from aster_core.errors import ExitCode

from tests.trust.helpers import assert_rejected_unchanged, ok

CONTROLS = ("\n", "\r", "\x00")
ENROLL = ("enroll", "node", "--role", "consumer", "--root-key", "root.key")


@pytest.fixture
def workdir(tmp_path):
    ok("trust", "keygen", "--out-key", "root.key", cwd=tmp_path)
    ok(*ENROLL, "--name", "existing", cwd=tmp_path)  # must stay untouched
    return tmp_path


@pytest.mark.parametrize("bad", CONTROLS)
def test_names_attributes_and_capabilities_with_a_control_character_are_refused(workdir, bad):
    for flags, needle in ((("--name", f"edge{bad}node"), "--name"),
                          (("--name", "edge", "--attr", f"zone=eu{bad}"), "--attr zone"),
                          (("--name", "edge", "--capabilities", f"ops.status,ops{bad}logs"), "--capabilities")):
        assert_rejected_unchanged(workdir, (*ENROLL, *flags), ExitCode.USAGE, needle)
    ok(*ENROLL, "--name", " edge-7\n", cwd=workdir)  # trimmed
    assert 'name = "edge-7"' in (workdir / ".aster-identity").read_text()
