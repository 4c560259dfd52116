"""Ids a person copies out of the authority's tables: deployment, plan, instance, endpoint and
review ids are whole on one line at 80 and 100 columns and when piped (these commands' stdout is
a pipe), optional columns go first (`--wide` keeps them), `--json` is unchanged; and the ids the
lists showed are offered on Tab (bash, zsh, fish) without dialling the authority. A real
`aster authority serve` on SQLite, the installed script as users run it."""

from __future__ import annotations

import json
import re

import pytest

from aster_core.testing import run_aster

DEP = "payments-eu-west-1-production"
#: another authority than the mesh's
NOWHERE = {"ASTER_AUTHORITY_ADDR": "ab" * 32}


def table(mesh, *args: str, columns: str | None) -> tuple[str, str]:
    env = {"COLUMNS": columns} if columns else {}
    result = mesh.aster(*args, **env)
    assert result.returncode == 0, (args, result.stderr)
    assert "…" not in result.stdout
    return result.stdout, result.stderr


def one_line(value: str, text: str) -> bool:
    return any(value in line for line in text.splitlines())


def tab(mesh, shell: str, words: str, **env: str) -> list[str]:
    """What Tab offers for ``words`` (the authority configured: the mesh's, unless ``env`` says)."""
    parts = words.split(" ")
    env = {**mesh.env(), **env, "_ASTER_COMPLETE": f"{shell}_complete", "COMP_WORDS": words,
           "COMP_CWORD": parts[-1] if shell == "fish" else str(len(parts) - 1)}
    done = run_aster([], env=env, cwd=mesh.tmp, timeout=30)
    assert done.returncode == 0 and done.stderr == "", done
    lines = done.stdout.splitlines()
    if shell == "zsh":
        return [lines[i + 1] for i in range(0, len(lines), 3) if lines[i] == "plain"]
    return [line.split(",", 1)[1].split("\t")[0] for line in lines if line.startswith("plain,")]


@pytest.mark.slow
def test_ids_whole_in_tables_and_offered_on_tab(sqlite_mesh, manifest_files):
    m = sqlite_mesh
    m.ok("svc", DEP, "create", "--role", "tasks")
    plan = m.ok("svc", DEP, "apply", "--manifest", str(manifest_files["v1"]))["plan"]["plan_id"]
    m.ok("svc", DEP, "authority", "accept-update", plan, "--yes")
    inst = m.ok("svc", DEP, "provision", "--out", "inst.identity", "--root-key", str(m.root.key_file))
    consumer = "cd" * 32
    m.ok("grants", "add", "--deployment", DEP, "--consumer", consumer, "--role", "tasks")
    for columns in ("80", "100", None):
        listed, _ = table(m, "svc", "list", columns=columns)
        assert one_line(DEP, listed)
        plans, _ = table(m, "svc", DEP, "authority", "plan", "list", columns=columns)
        assert one_line(plan, plans)
        instances, note = table(m, "svc", DEP, "instances", columns=columns)
        assert one_line(inst["instance_id"], instances)
        if columns != "100":   # the 64-hex endpoint does not fit beside it at 80: left out whole, and said
            assert inst["endpoint_id"][:8] not in instances and "--wide" in note
        wide, _ = table(m, "svc", DEP, "instances", "--wide", columns=columns)
        assert one_line(inst["endpoint_id"], wide) and one_line(inst["instance_id"], wide)
        grants, _ = table(m, "grants", "list", columns=columns)
        assert one_line(consumer, grants) and one_line(DEP, grants)
    assert m.ok("svc", DEP, "authority", "plan", "list", "--wide")["items"][0]["plan_id"] == plan  # --json as before

    # the lists above wrote the ids; Tab offers them without asking the authority (it is stopped)
    m.server.stop()
    for shell in ("bash", "zsh", "fish"):
        assert tab(m, shell, "aster svc pay") == [DEP]
        assert tab(m, shell, f"aster svc {DEP} authority accept-update ") == [plan]
        assert tab(m, shell, f"aster svc {DEP} authority plan show {plan[:4]}") == [plan]
        assert tab(m, shell, f"aster grants list --deployment {DEP[:3]}") == [DEP]
        # they are that authority's: another authority configured, or named on the line, is offered none
        assert tab(m, shell, "aster svc pay", **NOWHERE) == []
        assert tab(m, shell, f"aster svc {DEP} authority accept-update ", **NOWHERE) == []
        assert tab(m, shell, f"aster grants list --deployment {DEP[:3]}", **NOWHERE) == []
        assert tab(m, shell, f"aster svc {DEP} authority plan show --authority {'ab' * 32} {plan[:4]}") == []


@pytest.mark.slow
def test_review_ids_whole_and_offered(sqlite_mesh):
    m = sqlite_mesh
    m.ok("dev", "sensors", "create", "--review-mode", "required", "--role", "telemetry")
    m.ok("dev", "sensors", "provision", "--out", "a.bundle.json", "--root-key", str(m.root.key_file), "--name",
         "hall-1-with-a-long-name", "--serial-number", "SN-0000000001", "--model-number", "T1000-rev-b")
    pending = m.aster("dev", "activate", "--bundle", "a.bundle.json", "--identity", "a.identity", "--json")
    assert pending.returncode == 10, pending.stderr
    review = json.loads(pending.stdout)["review"]["review_id"]
    device = json.loads(pending.stdout)["instance_id"]
    for columns in ("80", "100", None):
        listed, _ = table(m, "dev", "sensors", "reviews", "list", columns=columns)
        assert one_line(review, listed) and one_line(device, listed)
        assert max(len(line) for line in listed.splitlines()) <= int(columns or 80)
        wide, _ = table(m, "dev", "sensors", "reviews", "list", "--wide", columns=columns)
        assert one_line("hall-1-with-a-long-name", wide) and re.search(r"\d{4}-\d\d-\d\dT", wide)
    for shell in ("bash", "zsh", "fish"):
        assert tab(m, shell, "aster dev sensors reviews approve ") == [review]
        assert tab(m, shell, "aster dev s") == []  # `dev list` has not run here: nothing cached
        assert tab(m, shell, "aster dev sensors reviews approve ", **NOWHERE) == []  # another authority's
