"""``aster registry serve`` in a subprocess, on 127.0.0.1, for the registry's server and client tests.

    with start_registry(database_url, home=tmp_path / "registry", smtp=smtp) as reg:   # or dev_mail=True
        reg.address          # the aster1 ticket it printed (loopback only)
        reg.info             # the whole ready line (endpoint_id, mail, ...)
        reg.log()            # its stderr, kept after stop()

``home`` is its ASTER_HOME and working directory (its node key lives there unless
``identity=`` names a file). ``ASTER_TEST_REGISTRY_SERVE`` may name another command line to
run instead of ``aster registry serve`` (a JSON list), e.g. an installed build of the server.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path
from typing import Mapping, Sequence

from tests.support.mail import MailSink
from tests.support.process import ServerProcess, start_process

#: Variables of the test's environment that must not leak into the server.
_SCRUBBED_PREFIXES = ("ASTER_ENROLLMENT", "ASTER_IDENTITY", "ASTER_SECRET_KEY", "ASTER_ROOT")


def registry_command() -> list[str]:
    override = os.environ.get("ASTER_TEST_REGISTRY_SERVE")
    if override:
        return json.loads(override)
    return [str(Path(sys.executable).with_name("aster")), "registry", "serve"]


def registry_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test's environment with ``home`` as ASTER_HOME, no trust variables, relays off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    env.update({"ASTER_HOME": str(home), "ASTER_RELAY_MODE": "disabled", "ASTER_LOG_LEVEL": "warning",
                "PYTHONUNBUFFERED": "1", **(extra or {})})
    return env


def start_registry(db: str, *, home: Path, smtp: MailSink | None = None, dev_mail: bool = False,
                   identity: Path | None = None, extra: Sequence[str] = (), env: Mapping[str, str] | None = None,
                   timeout: float = 60, max_lifetime: float = 300) -> ServerProcess:
    """Start the registry on ``db`` (a SQLite path or a ``postgresql://`` URL) and wait for its ticket.

    Mail goes to ``smtp`` (a :class:`MailSink`) or, with ``dev_mail``, to its log. ``extra``
    are more ``serve`` options; ``env`` is added to the test's environment.
    """
    home.mkdir(parents=True, exist_ok=True)
    argv = [*registry_command(), "--db", db, "--bind", "127.0.0.1", "--max-lifetime", str(max_lifetime), *extra]
    if smtp is not None:
        argv += ["--smtp", smtp.address]
    if dev_mail:
        argv.append("--dev-mail")
    if identity is not None:
        argv += ["--identity", str(identity)]
    return start_process(argv, log_path=home / f"registry-{secrets.token_hex(3)}.log", env=registry_env(home, env),
                         cwd=home, timeout=timeout, what="aster registry serve")
