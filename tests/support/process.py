"""A server under test in a subprocess: started, its JSON ready line read, stopped.

Every server the suite runs (the runtime harness in ``server.py``, ``aster registry serve``
in ``registry.py``, ``aster authority serve`` in ``authority.py``) prints one JSON line on
stdout when it accepts connections and logs to stderr. ``start_process`` starts one with its
stderr in a log file and waits for that line; ``ServerProcess`` stops it (SIGTERM, then
SIGKILL) and keeps its log. Its stdin is a pipe closed at stop, so a server that watches
stdin also ends when the test process dies; an atexit hook kills what is left.
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Mapping, Sequence


class ServerStartError(RuntimeError):
    """The server did not become ready; ``.reason`` is why in one line, ``.output`` its log."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(f"{message}\n--- server output ---\n{output}" if output else message)
        self.reason = message
        self.output = output


_LIVE: set["ServerProcess"] = set()


class ServerProcess:
    """A running server: ``info`` is its ready line, ``log()`` what it wrote on stderr."""

    def __init__(self, proc: subprocess.Popen[bytes], log_path: Path, info: dict[str, Any] | None = None) -> None:
        self.proc = proc
        self.log_path = log_path
        self.info: dict[str, Any] = info or {}
        self._final_log: str | None = None
        _LIVE.add(self)

    @property
    def address(self) -> str:
        """The ``aster1...`` ticket it printed (127.0.0.1 only): what a client dials."""
        return self.info["address"]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        """Its stderr so far; kept after it stopped."""
        if self._final_log is not None:
            return self._final_log
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, wait, then SIGKILL; returns the exit status. Safe to call again."""
        try:
            if self.proc.poll() is None:
                self._close_stdin()
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(10)
        finally:
            self._finish()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL at once: the server vanishes mid-conversation."""
        try:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(10)
        finally:
            self._finish()

    def _close_stdin(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def _finish(self) -> None:
        """Once the process is gone: close our pipe ends and keep the log."""
        if self.proc.poll() is None:
            return
        self._close_stdin()
        if self.proc.stdout is not None and not self.proc.stdout.closed:
            self.proc.stdout.close()
        if self._final_log is None:
            self._final_log = self.log()
        _LIVE.discard(self)

    def __enter__(self) -> "ServerProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(pid={self.proc.pid}, address={self.info.get('address')!r})"


def read_ready_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    """The first line ``proc`` prints on stdout, or "" at EOF or after ``timeout`` seconds."""
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


def start_process(argv: Sequence[str], *, log_path: Path, env: Mapping[str, str], cwd: str | os.PathLike,
                  timeout: float, what: str, handle: type[ServerProcess] = ServerProcess) -> Any:
    """Start ``argv`` and wait for its ready line; a ``handle`` instance (a ServerProcess).

    Raises :class:`ServerStartError` when it exits first, prints nothing in ``timeout``
    seconds, or its line is ``{"error": ...}`` (the process is gone by then).
    """
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([str(a) for a in argv], cwd=cwd, env=dict(env), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=log)
    server = handle(proc, log_path)
    try:
        line = read_ready_line(proc, timeout)
        if not line:
            state = f"exited with status {proc.poll()}" if proc.poll() is not None else f"not ready after {timeout}s"
            raise ServerStartError(f"{what} {state}", server.log())
        try:
            info = json.loads(line)
        except ValueError:
            raise ServerStartError(f"{what} printed {line[:200]!r}, not its JSON ready line", server.log()) from None
        if "error" in info:
            proc.wait(10)
            raise ServerStartError(info["error"], server.log())
    except BaseException:
        server.kill()
        raise
    server.info = info
    return server


@atexit.register
def _kill_leftovers() -> None:
    for server in list(_LIVE):
        server.kill()
