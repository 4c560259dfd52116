"""Helpers for the MCP tests: the SDK's own client talking to a real `aster mcp` process."""

from __future__ import annotations

import os
import re
import subprocess
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest

URL_LINE = re.compile(r"serving MCP over streamable HTTP at (http://\S+)")


def aster_bin() -> str:
    from aster_core.testing import aster_executable

    return aster_executable()


@asynccontextmanager
async def stdio_mcp(address: str, *flags: str, **client_kwargs: Any) -> AsyncIterator[Any]:
    """An SDK ``Client`` connected over stdio to ``aster mcp ADDRESS FLAGS``."""
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=aster_bin(), args=["mcp", address, *flags], env=dict(os.environ))
    async with Client(params, **client_kwargs) as client:
        yield client


class HttpMcp:
    """`aster mcp ADDRESS --transport http --port 0` in a subprocess; ``url`` once it serves."""

    def __init__(self, address: str, log: Path, *flags: str, timeout: float = 30.0) -> None:
        self.log = log
        self._log_file = open(log, "wb")
        self.proc = subprocess.Popen([aster_bin(), "mcp", address, "--transport", "http", "--port", "0", *flags],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log_file)
        self.url = self._wait_for_url(timeout)

    def _wait_for_url(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = URL_LINE.search(self.log.read_text(errors="replace"))
            if match:
                return match.group(1)
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"aster mcp --transport http did not start:\n{self.log.read_text(errors='replace')}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log_file.close()


@pytest.fixture
def http_mcp(tmp_path: Path) -> Iterator[Any]:
    """Factory: ``http_mcp(address, *flags) -> HttpMcp``; every process is stopped after the test."""
    started: list[HttpMcp] = []

    def start(address: str, *flags: str) -> HttpMcp:
        server = HttpMcp(address, tmp_path / f"mcp-http-{len(started)}.log", *flags)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()
