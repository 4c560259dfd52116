"""JSON a request carries is a stranger's: deep or huge documents are refused by the real
authority as INVALID_ARGUMENT naming the field (100,000 levels used to end in a RecursionError
inside the parser, answered UNKNOWN), and nothing is stored."""

from __future__ import annotations

import pytest

DEP = "payments"
DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("method, request_, field", [
    ("apply", {"kind": "service", "deployment_id": DEP, "manifests_json": DEEP, "ttl_seconds": 0},
     "manifests_json"),
    ("upload", {"kind": "service", "deployment_id": DEP, "credentials_json": ["{}", DEEP]}, "credentials_json[1]"),
    ("apply", {"kind": "service", "deployment_id": DEP, "manifests_json": '"' + "x" * (5 * 1024 * 1024) + '"',
               "ttl_seconds": 0}, "manifests_json"),
])
def test_deep_or_huge_json_is_refused_naming_the_field(sqlite_mesh, method, request_, field):
    from aster_authority import wire
    from aster_authority.client import connection as client

    m = sqlite_mesh
    m.ok("svc", DEP, "create", "--role", "tasks")
    before = m.ok("svc", DEP, "authority", "plan", "list")
    with client.Authority.open(m.server.address, str(m.admin_identity)) as auth:
        with pytest.raises(Exception) as info:
            auth.call(wire.ADMIN, method, request_)
        assert info.value.exit_code == 2, info.value
        assert field in info.value.message, info.value.message
        # the server is still answering, and nothing was proposed
        assert m.ok("svc", DEP, "authority", "plan", "list") == before
    assert "RecursionError" not in m.server.log.read_text(errors="replace")
