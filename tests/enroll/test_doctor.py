"""`aster doctor` checks the identity file in use, as a server would."""

from __future__ import annotations

import json
import time

from tests.trust.helpers import ok


def _identity_checks(tmp_path, **env):
    from aster_core.testing import run_aster

    result = run_aster(["doctor", "--json"], plugins=["trust", "enroll"], cwd=tmp_path, env=env)
    return {c["check"]: c for c in json.loads(result.stdout) if c["check"].startswith("identity")}


def test_doctor_reports_each_peer(tmp_path):
    ok("trust", "keygen", "--out-key", "root.key", cwd=tmp_path)
    assert _identity_checks(tmp_path)["identity"]["status"] == "ok"  # no file: nothing to check
    ok("enroll", "node", "--role", "consumer", "--name", "fine", "--root-key", "root.key", cwd=tmp_path)
    ok("enroll", "node", "--role", "consumer", "--name", "soon", "--expires", "2d", "--root-key", "root.key", cwd=tmp_path)
    ok("enroll", "node", "--role", "consumer", "--name", "gone", "--expires", "1s", "--root-key", "root.key", cwd=tmp_path)
    ok("enroll", "node", "--role", "producer", "--name", "svc", "--root-key", "root.key", cwd=tmp_path)
    time.sleep(1.2)
    checks = _identity_checks(tmp_path)
    assert checks["identity: fine"]["status"] == "ok"
    assert checks["identity: soon"]["status"] == "warn"
    assert checks["identity: gone"]["status"] == "fail" and "expired" in checks["identity: gone"]["message"]
    assert checks["identity: svc"]["status"] == "warn" and "OPEN-GATE" in checks["identity: svc"]["message"]
    configured = _identity_checks(tmp_path, ASTER_ROOT_PUBKEY_FILE=str(tmp_path / "root.pub"))
    assert configured["identity: svc"]["status"] == "ok"


def test_doctor_reports_a_corrupt_identity(tmp_path):
    (tmp_path / "my.id").write_text("[node\n")
    check = _identity_checks(tmp_path, ASTER_IDENTITY_FILE=str(tmp_path / "my.id"))["identity"]
    assert check["status"] == "fail" and "not valid TOML" in check["message"]
