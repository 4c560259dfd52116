"""Shared timing for the benchmarks: interleaved runs, medians, ratios in one run.

Machines here are shared and noisy, so every benchmark measures its subject
and its baseline alternately in the same run and reports the ratio of medians.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BARE_CLICK = [sys.executable, "-c",
              "import click\n@click.group()\ndef g():\n    'x'\ng(['--help'], standalone_mode=False)"]


def compile_sources() -> None:
    """Byte-compile our editable sources first, as a wheel install would.

    Editable installs leave no .pyc files, and with PYTHONDONTWRITEBYTECODE set
    (as on these machines) every run would recompile them from source: that is
    not what an installed `aster` does, so it must not be what we measure.
    """
    import compileall

    for folder in ("core", "plugins", "examples"):
        compileall.compile_dir(str(ROOT / folder), quiet=2, force=False)


def wall(cmd: Sequence[str], *, env: dict | None = None, input: str | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(list(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, input=input,
                   text=input is not None, check=False)
    return time.perf_counter() - start


def peak_rss_mib(cmd: Sequence[str], *, env: dict | None = None) -> float:
    """Peak resident memory of one run of ``cmd`` (via wait4's rusage)."""
    proc = subprocess.Popen(list(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, _, usage = os.wait4(proc.pid, 0)
    return usage.ru_maxrss / 1024


def compare(subjects: dict[str, Sequence[str]], baseline: Sequence[str], *, rounds: int = 15,
            env: dict | None = None) -> dict[str, tuple[float, float, float]]:
    """Median seconds of each subject and the baseline, interleaved; returns
    name -> (subject median, baseline median, ratio)."""
    times: dict[str, list[float]] = {name: [] for name in subjects}
    base: list[float] = []
    for cmd in [*subjects.values(), baseline]:
        wall(cmd, env=env)  # warm the page cache and .pyc files
    for _ in range(rounds):
        base.append(wall(baseline, env=env))
        for name, cmd in subjects.items():
            times[name].append(wall(cmd, env=env))
    b = statistics.median(base)
    return {name: (statistics.median(t), b, statistics.median(t) / b) for name, t in times.items()}


def report(title: str, results: dict[str, tuple[float, float, float]], budgets: dict[str, float]) -> bool:
    ok = True
    print(title)
    for name, (subject, base, ratio) in results.items():
        budget = budgets.get(name)
        verdict = "" if budget is None else ("  within budget" if ratio <= budget else "  OVER BUDGET")
        ok &= budget is None or ratio <= budget
        print(f"  {name:<28} {subject*1000:7.1f} ms  baseline {base*1000:7.1f} ms  ratio {ratio:5.2f}"
              + (f" (budget {budget})" if budget else "") + verdict)
    return ok


def fresh_root(prefix: str) -> tuple[Path, Any]:
    """A temp folder (``ASTER_HOME`` set to its ``home``) and a new root key, written to its
    ``root.key`` (for ``--root-key``)."""
    import tempfile

    from aster_trust.keys import generate_root_key, write_key_pair

    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["ASTER_HOME"] = str(tmp / "home")
    root = generate_root_key()
    write_key_pair(tmp / "root.key", root)
    return tmp, root


@contextlib.contextmanager
def authority_server(tmp: Path, root: Any, db: str) -> Iterator[tuple[str, dict[str, str], Path]]:
    """`aster authority serve` on loopback trusting ``root``, with an admin credential for it.

    Yields the server's address, an environment naming it and the credential
    (ASTER_AUTHORITY_ADDR, ASTER_AUTHORITY_CREDENTIAL) for the CLI, and the credential's path:
    an identity file (node key and the admin credential bound to it), since the authority
    refuses unbound admin credentials and decisions are signed with the node key.
    """
    from aster_core.files import atomic_write, dump_toml

    from aster_enroll.identity import NodeKey, peer_entry
    from aster_trust import credentials

    admin = tmp / "admin.identity"
    node = NodeKey.generate()
    cred = credentials.sign(root, "policy", expires_at=int(time.time()) + 3600,
                            attributes={"aster.role": "authority.admin", "aster.name": "bench"},
                            endpoint_id=node.endpoint_id)
    atomic_write(admin, dump_toml({"node": node.table(), "peers": [peer_entry("bench", "consumer", cred)]}),
                 mode=0o600)
    cmd = [str(BIN / "aster"), "authority", "serve", "--db", db, "--root-pubkey", root.public_hex,
           "--identity", str(tmp / "node.key"), "--bind", "127.0.0.1", "--max-lifetime", "900"]
    env = dict(os.environ, ASTER_SERVER_LOG_LEVEL="warning", ASTER_LOG_LEVEL="warning")
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    try:
        address = json.loads(server.stdout.readline())["address"]
        yield address, dict(env, ASTER_AUTHORITY_ADDR=address, ASTER_AUTHORITY_CREDENTIAL=str(admin)), admin
    finally:
        server.terminate()
        server.wait(10)


class McpPipe:
    """A spawned ``aster mcp`` (ours or the released one) spoken to in newline-delimited JSON-RPC."""

    def __init__(self, cmd: Sequence[str], env: dict | None = None) -> None:
        import selectors

        self.started = time.perf_counter()
        self.proc = subprocess.Popen(list(cmd), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)
        self._buf = b""
        self._next_id = 0

    def send(self, method: str, params: dict | None = None, *, notify: bool = False) -> int | None:
        """Send a request (returns its id) or, with ``notify``, a notification."""
        import json

        message: dict = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        ident = None
        if not notify:
            self._next_id += 1
            ident = message["id"] = self._next_id
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()
        return ident

    def receive(self, ident: int | None, timeout: float = 60) -> dict:
        """The result of request ``ident``; RuntimeError for an error answer or an exit, TimeoutError."""
        import json

        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self._buf:
                line, self._buf = self._buf.split(b"\n", 1)
                message = json.loads(line)
                if message.get("id") == ident:
                    if "error" in message:
                        raise RuntimeError(f"JSON-RPC error: {message['error']}")
                    return message["result"]
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._sel.select(remaining):
                raise TimeoutError("aster mcp did not answer")
            chunk = os.read(self.proc.stdout.fileno(), 1 << 20)
            if not chunk:
                raise RuntimeError("aster mcp exited")
            self._buf += chunk

    def call(self, method: str, params: dict | None = None, timeout: float = 60) -> dict:
        return self.receive(self.send(method, params), timeout)

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(10)
        except (subprocess.TimeoutExpired, OSError):
            self.proc.kill()
            self.proc.wait()
        self._sel.close()
