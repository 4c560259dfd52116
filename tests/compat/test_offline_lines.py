"""Every command line of aster-cli 0.1.2's ``--help`` that needs no peer runs on ours, in-process,
with its exit code and effect (the table is :data:`tests.compat.lines.OFFLINE`)."""

from __future__ import annotations

import pytest

from .lines import OFFLINE, SETUP, Line, Workspace


@pytest.mark.parametrize("line", OFFLINE, ids=[line.id for line in OFFLINE])
def test_line_runs_with_its_effect(line: Line, tmp_path):
    ws = Workspace(tmp_path)
    ws.env.update(line.env or {})
    for step in line.setup:
        SETUP[step](ws)
    done = ws.aster(*line.argv, input=line.input)
    assert done.returncode == line.code, (line.argv, done.stdout, done.stderr)
    if line.code:
        assert done.stderr.startswith("Error: ") and "Traceback" not in done.stderr, done.stderr
    if line.check is not None:
        line.check(ws, done)


def test_aliases_are_hidden_from_the_listing_but_have_their_own_help(tmp_path):
    ws = Workspace(tmp_path)
    for _ in ("plugin cache cold", "plugin cache warm"):  # the second start reads the cache
        listing = ws.ok("--help").stdout
        commands = {row.split()[0] for row in listing.split("Commands:")[1].splitlines() if row.strip()}
        assert {"trust", "enroll", "contract", "shell"} <= commands
        assert not {"keygen", "authorize", "init"} & commands
    ws.env.update({"_ASTER_COMPLETE": "bash_complete", "COMP_WORDS": "aster ", "COMP_CWORD": "1"})
    offered = {line.partition(",")[2] for line in ws.ok().stdout.split()}  # bash's "plain,NAME" lines
    assert "trust" in offered and not {"keygen", "authorize", "init"} & offered, offered
    ws.env["COMP_WORDS"] = "aster key"
    assert "keygen" not in ws.ok().stdout
    for name in ("_ASTER_COMPLETE", "COMP_WORDS", "COMP_CWORD"):
        del ws.env[name]
    for alias, needle in (("keygen", "aster-cli 0.1.2"), ("authorize", "--producer-id"), ("init", "--ai")):
        assert needle in ws.ok(alias, "--help").stdout
