"""`aster mcp ADDRESS` spoken to over raw stdio, a line at a time.

For tests that must control the exact bytes a client sends (the attack tests, the early
handshake), where an SDK client would normalise them.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any

from aster_core.testing import aster_executable


class RawMcp:
    """One spawned `aster mcp`; its stderr goes to ``log`` when given, else nowhere."""

    def __init__(self, address: str, log: Path | None = None) -> None:
        self.log = log
        self._err: Any = open(log, "wb") if log else subprocess.DEVNULL
        self.started = time.perf_counter()
        self.proc = subprocess.Popen([aster_executable(), "mcp", address], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._err)
        self._buf = b""

    def send(self, *lines: str | bytes) -> None:
        """Write each line and a newline, in one write."""
        data = b"".join((line.encode() if isinstance(line, str) else line) + b"\n" for line in lines)
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def read(self, timeout: float = 30.0) -> str | None:
        """The next line of stdout, or None at a timeout or the end of output."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                return None
            chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
            if not chunk:
                return None
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode()

    def read_json(self, timeout: float = 30.0) -> Any:
        line = self.read(timeout)
        return json.loads(line) if line else None

    def close(self) -> str:
        """Stop the process; what it wrote to stderr (empty without a log)."""
        self.proc.stdin.close()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        if self.log is None:
            return ""
        self._err.close()
        return self.log.read_text(errors="replace")
