"""Suite-wide isolation: every test gets its own ASTER_HOME and a real file keyring.

Nothing a test does touches the developer's ~/.aster or OS keyring, and the
runtime never waits on relay servers (there is no internet here).

The test-support layer (``tests/support``, see its README) is registered here, once, as
pytest plugins: its fixtures are visible to every test without imports.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ["ASTER_RELAY_MODE"] = "disabled"
os.environ.setdefault("NO_COLOR", "1")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # so `tests.support` imports from subprocesses too

pytest_plugins = [
    "tests.support.markers",    # pg / install markers from fixture use; long modules first
    "tests.support.fixtures",   # open_server, server_factory, trusted_server, root_key
    "tests.support.postgres",   # pg_cluster (one per pytest process, so one per xdist worker), pg_url, database_url
    "tests.support.mail",       # smtp: a real SMTP sink on loopback
    "tests.support.clock",      # clock: time that moves only when the test says
    "tests.support.hostile_authority",  # hostile_authority: an authority answering what the test scripts
]


@pytest.fixture(autouse=True)
def aster_env(tmp_path_factory, monkeypatch):
    """Isolated home + file keyring for each test; yields the home path."""
    from aster_core.testing import isolated_env

    base = tmp_path_factory.mktemp("aster-env")
    for key, value in isolated_env(base).items():
        monkeypatch.setenv(key, value)
    for key in ("ASTER_PROFILE", "ASTER_PLUGINS", "ASTER_DISABLE_PLUGINS", "ASTER_STRICT_PLUGINS",
                "ASTER_ROOT_PUBKEY", "ASTER_ROOT_PUBKEY_FILE", "ASTER_ENROLLMENT_CREDENTIAL",
                "ASTER_IDENTITY_FILE", "ASTER_DEBUG"):
        monkeypatch.delenv(key, raising=False)
    yield Path(os.environ["ASTER_HOME"])
