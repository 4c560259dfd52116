"""Start the harness server (``tests/support/serve.py``) in a subprocess.

    with start_server(["echo", "session"]) as srv:
        srv.address       # aster1 ticket (loopback only) for AsterClient / our CLI
        srv.node_addr     # the same peer as a base64 NodeAddr
        srv.endpoint_id   # 64 hex
        srv.info          # the whole ready line (services, contract_ids, mode, ...)

Every process started here is stopped when the context exits (and by an atexit
hook as a last resort, see ``process.py``); serve.py also stops itself when its
stdin closes or after ``max_lifetime`` seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping

from tests.support.process import ServerProcess, ServerStartError, start_process

__all__ = ["RunningServer", "ServerStartError", "start_server"]

REPO_ROOT = Path(__file__).resolve().parents[2]

#: Trust-related variables a test's environment must not leak into a server it starts.
_SCRUBBED_ENV = (
    "ASTER_ROOT_PUBKEY", "ASTER_ROOT_PUBKEY_FILE", "ASTER_ENROLLMENT_CREDENTIAL",
    "ASTER_ENROLLMENT_CREDENTIAL_IID", "ASTER_IDENTITY_FILE", "ASTER_ALLOW_ALL_CONSUMERS",
    "ASTER_ALLOW_ALL_PRODUCERS", "ASTER_CONFIG", "ASTER_SECRET_KEY", "ASTER_STORAGE_PATH",
    "ASTER_ENDPOINT_ADDR",
)


class RunningServer(ServerProcess):
    """A live harness server process. Use as a context manager or call ``stop()``."""

    def __init__(self, proc: subprocess.Popen[bytes], log_path: Path, info: dict[str, Any] | None = None) -> None:
        super().__init__(proc, log_path, info)
        self.owns_workdir = True  # False when the caller chose the directory

    @property
    def node_addr(self) -> str:
        """Base64 NodeAddr (loopback only), the other address form clients accept."""
        return self.info["node_addr"]

    @property
    def endpoint_id(self) -> str:
        return self.info["endpoint_id"]

    @property
    def contract_ids(self) -> dict[str, str]:
        """``{"Name": id}`` for names served once, and ``{"Name@vN": id}`` for every service."""
        return self.info["contract_ids"]

    @property
    def root_pubkey(self) -> str | None:
        return self.info.get("root_pubkey")

    def stderr_text(self) -> str:
        """What the server logged (runtime logs go to stderr); kept after stop()."""
        return self.log()

    def _finish(self) -> None:
        super()._finish()
        if self.proc.poll() is None:
            return
        workdir = self.info.get("workdir")
        if workdir and self.owns_workdir and "aster-harness-server-" in workdir:
            shutil.rmtree(workdir, ignore_errors=True)
        self.log_path.unlink(missing_ok=True)  # log() keeps its text


def _server_env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env["ASTER_RELAY_MODE"] = "disabled"
    env.setdefault("ASTER_LOG_LEVEL", "warning")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    if extra:
        env.update(extra)
    return env


def start_server(
    services: Iterable[str] | str = ("echo", "session", "v2"),
    *,
    root_pubkey_file: str | os.PathLike[str] | None = None,
    manifest: str | os.PathLike[str] | None = None,
    identity: str | os.PathLike[str] | None = None,
    workdir: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    max_lifetime: float = 300.0,
) -> RunningServer:
    """Start serve.py with the given service keys and wait until it accepts connections.

    ``services`` are harness keys (``"echo"``) and/or ``"MODULE:CLASS"`` specs.
    ``root_pubkey_file`` switches the server to trusted mode (consumer gate closed).
    ``manifest`` is verified by the runtime at start-up: a mismatch raises
    ``ServerStartError`` whose ``reason`` contains the runtime's message.
    ``workdir`` (exclusive with ``manifest``) runs the server in that directory instead of
    a fresh temp one: its ``.aster/manifest.json`` is checked, it is importable (for
    specs), and it is left in place.
    ``env`` is added to a copy of ``os.environ`` minus the trust variables
    (ASTER_ROOT_PUBKEY*, ASTER_ENROLLMENT_CREDENTIAL, ASTER_IDENTITY_FILE, ...).
    """
    keys = services if isinstance(services, str) else ",".join(services)
    cmd = [sys.executable, "-m", "tests.support.serve", "--services", keys,
           "--max-lifetime", str(max_lifetime)]
    if root_pubkey_file is not None:
        cmd += ["--root-pubkey-file", os.fspath(root_pubkey_file)]
    if manifest is not None:
        cmd += ["--manifest", os.fspath(manifest)]
    if identity is not None:
        cmd += ["--identity", os.fspath(identity)]
    if workdir is not None:
        if manifest is not None:
            raise ValueError("pass manifest= or workdir=, not both")
        cmd += ["--workdir", os.path.abspath(workdir)]

    with tempfile.NamedTemporaryFile(prefix="aster-harness-", suffix=".log", delete=False) as log:
        log_path = Path(log.name)
    server = start_process(cmd, log_path=log_path, env=_server_env(env), cwd=REPO_ROOT, timeout=timeout,
                           what="harness server", handle=RunningServer)
    server.owns_workdir = workdir is None
    return server
