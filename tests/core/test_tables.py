"""Tables never cut an id: at 80 and 100 columns, piped (rich's 80 columns), with optional
columns left out first and `--wide` keeping them; `--json` is unchanged. Rendered by the real
rich Console into a buffer, and through `aster profile list` as a user runs it."""

from __future__ import annotations

import io
import json
import re

import pytest
from rich.console import Console

from aster_core import tables
from aster_core.testing import invoke

PLAN = "01JF3Z8K9QWERTYUIOPASDFGHJ"
ENDPOINT = "ab" * 32
ROW = (PLAN, "migration", "pending (stale)", 2, "TaskService, BillingService, AdminService", "2026-12-14T10:00:00Z")
COLUMNS = ["plan", "class", "state", "breaking", "services", "expires"]


def draw(width: int, columns=COLUMNS, rows=(ROW,), **kw) -> tuple[str, list[str]]:
    buf = io.StringIO()
    console = Console(file=buf, width=width, no_color=True, highlight=False, soft_wrap=False)
    left = tables.render(console, columns, [list(r) for r in rows], **kw)
    return buf.getvalue(), left


def whole_on_a_line(value: str, text: str) -> bool:
    return any(value in line for line in text.splitlines())


@pytest.mark.parametrize("width", [40, 60, 80, 100, 200])
def test_ids_are_whole_at_every_width(width):
    text, _ = draw(width)
    assert whole_on_a_line(PLAN, text) and "…" not in text
    # wider than the terminal only as far as the id and the other five columns folded to 4 need
    narrowest = len(PLAN) + 6 * 2 + 5 + 5 * 4
    assert max(len(line) for line in text.splitlines()) <= max(width, narrowest)


def test_other_columns_wrap_before_anything_is_dropped():
    text, left = draw(110, optional=("services", "expires"))
    assert left == [] and whole_on_a_line("2026-12-14T10:00:00Z", text)
    assert "TaskService," in text and "AdminService" in text     # wrapped at spaces, words whole
    assert max(len(line) for line in text.splitlines()) <= 110
    text, left = draw(100, optional=("services", "expires"))     # wrapping alone no longer fits
    assert left == ["expires"] and "BillingService," in text


def test_optional_columns_go_last_first_and_wide_keeps_them():
    text, left = draw(60, optional=("services", "expires"))
    assert left == ["services", "expires"] and "2026-12" not in text and whole_on_a_line(PLAN, text)
    text, left = draw(80, optional=("services", "expires"))
    assert left == ["expires"] and "Task" in text
    wide, left = draw(60, optional=("services", "expires"), wide=True)
    assert left == [] and whole_on_a_line("2026-12-14T10:00:00Z", wide)
    assert whole_on_a_line("TaskService, BillingService, AdminService", wide)   # --wide: no wrapping at all


def test_ids_wider_than_the_terminal_make_the_table_wider_not_cut():
    text, _ = draw(80, ["instance", "endpoint", "state"], [("svc_" + "x" * 22, ENDPOINT, "current")])
    assert whole_on_a_line(ENDPOINT, text) and whole_on_a_line("svc_" + "x" * 22, text)
    text, left = draw(80, ["instance", "endpoint", "state"], [("svc_" + "x" * 22, ENDPOINT, "current")],
                      optional=("endpoint",))
    assert left == ["endpoint"] and ENDPOINT not in text and max(len(line) for line in text.splitlines()) <= 80


def test_ids_by_header_or_by_the_command():
    rows = [("a" * 40, "b" * 40, "c" * 40)]
    text, _ = draw(60, ["review", "name", "note"], rows)
    assert whole_on_a_line("a" * 40, text) and not whole_on_a_line("b" * 40, text)  # name folds, never "…"
    text, _ = draw(60, ["review", "name", "note"], rows, ids=("name",))
    assert whole_on_a_line("b" * 40, text) and not whole_on_a_line("a" * 40, text)


def _pubkeys(text: str) -> list[str]:
    return re.findall(r"\b[0-9a-f]{64}\b", text)


@pytest.mark.parametrize("columns", ["80", "100", None])
def test_profile_list_piped(aster_env, columns):
    made = [json.loads(invoke(["profile", "create", f"ops-team-{n}", "--json"]).stdout)["root_pubkey"]
            for n in range(3)]
    env = {"COLUMNS": columns}   # None: unset, a pipe: rich's 80 columns
    table = invoke(["profile", "list"], env=env)
    assert table.returncode == 0
    assert _pubkeys(table.stdout) == made, table.stdout   # every key whole on its line
    needed = 3 + len("ops-team-0") + 64 + 3 * 2 + 2   # the marker, the name and the key: ids, never cut
    assert max(len(line) for line in table.stdout.splitlines()) <= max(int(columns or 80), needed)
    if (columns or "80") == "80":
        assert "--wide" in table.stderr and "created" in table.stderr
    wide = invoke(["profile", "list", "--wide"], env=env)
    assert _pubkeys(wide.stdout) == made and "created" in wide.stdout and "handle" in wide.stdout
    plain = json.loads(invoke(["profile", "list", "--json"]).stdout)
    assert json.loads(invoke(["profile", "list", "--json", "--wide"], env=env).stdout) == plain
    assert [p["root_pubkey"] for p in plain] == made
