"""``aster authority serve`` in a subprocess, on 127.0.0.1, for the authority's tests.

    server = AuthorityServer(db, root.pubkey_file, tmp / "authority.key", tmp / "authority.log").start()
    server.address        # the aster1 ticket it printed (loopback only)
    server.kill(); server.start()   # a restart: same database, same node key, same address
    server.stop()

The object names one deployment of the server (database, trusted root, node key, log file)
and runs at most one process of it at a time; ``log`` is a path kept across restarts.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.process import ServerProcess, start_process

REPO = Path(__file__).resolve().parents[2]


@dataclass
class AuthorityServer:
    """``aster authority serve --db DB --root-pubkey ... --identity ...`` (bounded lifetime)."""

    db: str
    root_pubkey_file: Path
    identity: Path
    log: Path
    process: ServerProcess | None = None

    @property
    def address(self) -> str:
        assert self.process is not None, "not started"
        return self.process.address

    @property
    def info(self) -> dict[str, Any]:
        """The ready line of the running (or last) process."""
        return self.process.info if self.process is not None else {}

    def start(self, timeout: float = 40, max_lifetime: float = 400) -> "AuthorityServer":
        argv = [str(Path(sys.executable).with_name("aster")), "authority", "serve", "--db", self.db,
                "--root-pubkey", str(self.root_pubkey_file), "--identity", str(self.identity),
                "--bind", "127.0.0.1", "--max-lifetime", str(max_lifetime)]
        env = dict(os.environ, ASTER_SERVER_LOG_LEVEL="warning", ASTER_LOG_LEVEL="warning")
        self.process = start_process(argv, log_path=self.log, env=env, cwd=REPO, timeout=timeout,
                                     what="aster authority serve")
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout=15)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
