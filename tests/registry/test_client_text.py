"""The registry's value rules (aster_registry.rules, shared by client and server) and the
client's own checks refuse a trailing newline, a carriage return and a NUL: every rule matches
the whole value (aster_core.text) and no value holds a control character. Offline: each is
refused before anything is sent."""

from __future__ import annotations

import pytest

from aster_core.errors import UsageError
from aster_core.testing import assert_clean_error, invoke

PLUGINS = ["aster-registry", "aster-enroll", "aster-trust", "aster-connect"]
CONTROLS = ("\n", "\r", "\x00")


@pytest.mark.parametrize("bad", CONTROLS)
def test_every_rule_refuses_a_control_character(bad):
    from aster_registry import rules

    good = {rules.check_handle: "alice", rules.check_email: "alice@example.org", rules.check_service_name: "TaskService",
            rules.check_rate_limit: "5/1h", rules.check_role: "reader", rules.check_node_id: "ab" * 32}
    for check, value in good.items():
        assert check(value) is None, (check.__name__, value)
        for text in (value + bad, value[:2] + bad + value[2:]):
            assert check(text), (check.__name__, text)
    assert rules.split_service_ref("@alice/TaskService") == ("alice", "TaskService")
    for text in (f"@alice{bad}/TaskService", f"@alice/TaskService{bad}", f"@al{bad}ice/TaskService"):
        assert rules.split_service_ref(text) is None or rules.check_service_name(rules.split_service_ref(text)[1])


@pytest.mark.parametrize("bad", CONTROLS)
def test_client_checks_refuse_a_control_character(bad):
    from aster_registry.client.address import check_form
    from aster_registry.client.publication import delegation
    from aster_registry.client.resolve import parse

    with pytest.raises(UsageError, match="rate-limit"):
        delegation(closed=False, token_ttl=300, rate_limit=f"5/1h{bad}", roles=())
    with pytest.raises(UsageError, match="role"):
        delegation(closed=False, token_ttl=300, rate_limit=None, roles=(f"reader{bad}",))
    with pytest.raises(UsageError):
        parse(f"@alice{bad}/TaskService")
    with pytest.raises(UsageError):
        check_form(f"aster1abcdefghij{bad}klmn", "--registry")
    with pytest.raises(UsageError):
        check_form("ab" * 32 + bad + "x", "--registry")
    assert delegation(closed=False, token_ttl=300, rate_limit="5/1h", roles=("reader",))["rate_limit"] == "5/1h"


def _profile() -> None:
    result = invoke(["profile", "create", "dev"], plugins=[])
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("bad", CONTROLS)
def test_commands_refuse_a_control_character_before_any_network(aster_env, bad):
    _profile()
    config = (aster_env / "config.toml").read_bytes()
    dead = ["--registry", "ab" * 32, "--timeout", "3"]  # nobody is there: a refusal must come first
    cases = [
        (["join", "--handle", "alice", "--email", f"ali{bad}ce@example.org", *dead], "email"),
        (["join", "--handle", f"al{bad}ice", "--email", "alice@example.org", *dead], "handle"),
        (["discover", f"task{bad}words", *dead], "query"),
        (["recover", "alice", "--code", f"ab12-{bad}cd34", *dead], "--code"),
        (["call", f"@alice{bad}/TaskService.get", "{}"], "registry address"),
    ]
    for argv, needle in cases:
        assert_clean_error(invoke(argv, plugins=PLUGINS), 2, needle)
    assert (aster_env / "config.toml").read_bytes() == config


@pytest.mark.parametrize("bad", CONTROLS)
def test_discover_prints_one_line_per_service_whatever_the_registry_sent(bad):
    """Rows stored before registries refused control characters (or a registry that does not)
    cannot forge lines: each is shown escaped."""
    from aster_registry.client.commands_publication import discover_lines

    entry = {"handle": f"alice{bad}  @alice", "service_name": "TaskService", "version": 1, "status": f"stable{bad}",
             "visibility": "public", "delegation_mode": "open", "endpoint_count": 1, "description": f"Tasks{bad}x"}
    lines = discover_lines({"total": 1, "services": [entry]})
    assert len(lines) == 3 and not any(bad in line for line in lines)
    assert lines[1].startswith("  @alice" + repr(bad)[1:-1]) and lines[2] == "    Tasks" + repr(bad)[1:-1] + "x"
