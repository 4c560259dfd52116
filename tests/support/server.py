"""Start the harness server (``tests/support/serve.py``) in a subprocess.

    with start_server(["echo", "session"]) as srv:
        srv.address       # aster1 ticket (loopback only) for AsterClient / our CLI
        srv.node_addr     # the same peer as a base64 NodeAddr
        srv.endpoint_id   # 64 hex
        srv.info          # the whole ready line (services, contract_ids, mode, ...)

Every process started here is stopped when the context exits (and by an atexit
hook as a last resort); serve.py also stops itself when its stdin closes or after
``max_lifetime`` seconds.
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

REPO_ROOT = Path(__file__).resolve().parents[2]

#: Trust-related variables a test's environment must not leak into a server it starts.
_SCRUBBED_ENV = (
    "ASTER_ROOT_PUBKEY", "ASTER_ROOT_PUBKEY_FILE", "ASTER_ENROLLMENT_CREDENTIAL",
    "ASTER_ENROLLMENT_CREDENTIAL_IID", "ASTER_IDENTITY_FILE", "ASTER_ALLOW_ALL_CONSUMERS",
    "ASTER_ALLOW_ALL_PRODUCERS", "ASTER_CONFIG", "ASTER_SECRET_KEY", "ASTER_STORAGE_PATH",
    "ASTER_ENDPOINT_ADDR",
)

_LIVE: set["RunningServer"] = set()


class ServerStartError(RuntimeError):
    """The server did not become ready; ``.output`` holds what it printed."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(f"{message}\n--- server output ---\n{output}" if output else message)
        self.reason = message
        self.output = output


class RunningServer:
    """A live harness server process. Use as a context manager or call ``stop()``."""

    def __init__(self, proc: subprocess.Popen[bytes], info: dict[str, Any], stderr_path: Path,
                 owns_workdir: bool = True) -> None:
        self.proc = proc
        self.info = info
        self._stderr_path = stderr_path
        self._owns_workdir = owns_workdir  # False when the caller chose the directory
        self._stderr_final: str | None = None

    @property
    def address(self) -> str:
        """``aster1...`` ticket naming only 127.0.0.1: what a client dials."""
        return self.info["address"]

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

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stderr_text(self) -> str:
        """What the server logged (runtime logs go to stderr); kept after stop()."""
        if self._stderr_final is not None:
            return self._stderr_final
        try:
            return self._stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, wait, then SIGKILL if needed. Safe to call repeatedly."""
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=timeout)
        finally:
            self._cleanup()

    def kill(self) -> None:
        """SIGKILL at once: simulates a server vanishing mid-conversation."""
        try:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
        finally:
            self._cleanup()

    def _cleanup(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        if self.proc.stdout is not None and not self.proc.stdout.closed:
            self.proc.stdout.close()
        workdir = self.info.get("workdir")
        if (workdir and self._owns_workdir and self.proc.poll() is not None
                and "aster-harness-server-" in workdir):
            shutil.rmtree(workdir, ignore_errors=True)
        if self._stderr_final is None and self.proc.poll() is not None:
            self._stderr_final = self.stderr_text()
            self._stderr_path.unlink(missing_ok=True)
        _LIVE.discard(self)

    def __enter__(self) -> "RunningServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RunningServer(pid={self.proc.pid}, address={self.info.get('address')!r})"


def _server_env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env["ASTER_RELAY_MODE"] = "disabled"
    env.setdefault("ASTER_LOG_LEVEL", "warning")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    if extra:
        env.update(extra)
    return env


def _read_ready_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    """First stdout line, or "" on EOF/timeout."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    buf = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while b"\n" not in buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not sel.select(remaining):
                return ""
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
    return buf.split(b"\n", 1)[0].decode("utf-8", "replace")


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

    import tempfile

    stderr_file = tempfile.NamedTemporaryFile(prefix="aster-harness-", suffix=".log", delete=False)
    stderr_path = Path(stderr_file.name)
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=_server_env(env), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=stderr_file)
    stderr_file.close()
    server = RunningServer(proc, {}, stderr_path, owns_workdir=workdir is None)
    _LIVE.add(server)
    try:
        line = _read_ready_line(proc, timeout)
        if not line:
            state = "exited with status %s" % proc.poll() if proc.poll() is not None else \
                f"not ready after {timeout}s"
            raise ServerStartError(f"harness server {state}", server.stderr_text())
        info = json.loads(line)
        if "error" in info:
            proc.wait(timeout=10)
            raise ServerStartError(info["error"], server.stderr_text())
    except BaseException:
        server.kill()
        raise
    server.info = info
    return server


@atexit.register
def _stop_leftovers() -> None:
    for server in list(_LIVE):
        server.kill()
