"""``aster local up``: both servers of a local mesh in the foreground, one combined log.

Each server is the ordinary command (``aster authority serve``, ``aster registry serve
--dev-mail``) in a child process of its own session, so a Ctrl-C at the terminal reaches
only this process, which then stops both in order (stdin closed, SIGTERM, SIGKILL after a
grace period). Every line either prints, on stdout or stderr, comes out here once, prefixed
``[authority]`` or ``[registry]``; their JSON ready lines are read for the addresses, which
are then written to config.toml (``[authority] address``, ``[aster_service] node_id``) so
every other command finds them; then one line ``[local] ready {json}``.

If either server stops by itself, the other is stopped too and ``up`` fails (exit 1) naming
it; Ctrl-C or SIGTERM stop both and ``up`` exits 0 (a foreground server's normal end). The
children also stop by themselves when this process vanishes (their stdin reaches EOF).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from aster_core.errors import AsterError, UsageError

from .layout import Layout

STOP_GRACE = 15.0
#: held by the running `up` (its pid inside)
RUN_LOCK = "up.lock"
READY_TIMEOUT = 90.0


def aster_command() -> list[str]:
    """The ``aster`` script beside this interpreter (the one running now), else on PATH."""
    beside = Path(sys.executable).with_name("aster")
    return [str(beside)] if beside.exists() else ["aster"]


def server_argv(layout: Layout, record: dict[str, Any], max_lifetime: float | None) -> dict[str, list[str]]:
    lifetime = ["--max-lifetime", f"{max_lifetime:g}"] if max_lifetime else []
    auth, reg = record["authority"], record["registry"]
    return {
        "authority": [*aster_command(), "authority", "serve", "--db", auth["db"], "--root-pubkey", str(layout.root_pub),
                      "--identity", auth["identity"], "--bind", "127.0.0.1", *lifetime],
        "registry": [*aster_command(), "registry", "serve", "--db", reg["db"], "--dev-mail", "--identity",
                     reg["identity"], "--bind", "127.0.0.1", *lifetime],
    }


class Child:
    """One server: its process, the threads copying its output, its ready line."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], emit: Callable[[str, str], None]):
        self.name = name
        self.ready: dict[str, Any] | None = None
        self.ready_event = threading.Event()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env, text=True, bufsize=1, start_new_session=True)
        self._emit = emit
        self.threads = [threading.Thread(target=self._copy, args=(stream, stream is self.proc.stdout), daemon=True)
                        for stream in (self.proc.stdout, self.proc.stderr)]
        for t in self.threads:
            t.start()

    def _copy(self, stream: Any, is_stdout: bool) -> None:
        for line in stream:
            line = line.rstrip("\n")
            if is_stdout and self.ready is None and line.startswith("{"):
                try:
                    doc = json.loads(line)
                except ValueError:
                    doc = None
                if isinstance(doc, dict) and doc.get("address"):
                    self.ready = doc  # the server's own log line says where it serves
                    self.ready_event.set()
                    continue
            self._emit(self.name, line)
        if is_stdout:
            self.ready_event.set()  # ended without a ready line: wake the waiter

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        except OSError:
            pass


class Printer:
    """One combined log: whole lines, never interleaved."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __call__(self, name: str, line: str) -> None:
        with self._lock:
            sys.stdout.write(f"[{name}] {line}\n")
            sys.stdout.flush()


@contextlib.contextmanager
def running(layout: Layout) -> Iterator[None]:
    """Held while ``up`` runs: a second ``up`` of the same mesh would start servers with the same
    node keys on the same databases, so it is refused (exit 2) instead."""
    import fcntl

    path = layout.dir / RUN_LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise UsageError(f"the local mesh in {layout.dir} is already up (`aster local up`, pid {holder})",
                             "use it as it is (`aster local status`), or stop that one first") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def up(layout: Layout, *, max_lifetime: float | None = None) -> int:
    """Run both servers until Ctrl-C/SIGTERM (0) or until one stops by itself (AsterError, exit 1)."""
    record = layout.read()
    with running(layout):
        return _up(layout, record, max_lifetime)


def _up(layout: Layout, record: dict[str, Any], max_lifetime: float | None) -> int:
    from aster_core.configset import change

    printer = Printer()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    stop = threading.Event()
    reason: dict[str, Any] = {}

    def on_signal(signum: int, _frame: Any) -> None:
        reason.setdefault("signal", signal.Signals(signum).name)
        stop.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    children: list[Child] = []
    try:
        for name, argv in server_argv(layout, record, max_lifetime).items():
            printer("local", f"starting {name}: {' '.join(argv[1:])}")
            children.append(Child(name, argv, env, printer))
        deadline = time.monotonic() + READY_TIMEOUT
        for child in children:
            while not child.ready_event.wait(0.2):
                if stop.is_set() or time.monotonic() > deadline:
                    break
            if child.ready is None and not stop.is_set():
                raise AsterError(f"the {child.name} did not start (exit {child.proc.poll()}); its lines above say why",
                                 "fix what it reports, then run `aster local up` again")
        if not stop.is_set():
            addresses = {c.name: c.ready["address"] for c in children if c.ready}
            change({"authority.address": addresses["authority"], "aster_service.node_id": addresses["registry"],
                    "aster_service.enabled": "true"})
            ready = {"dir": str(layout.dir), "profile": record["profile"],
                     **{c.name: {"address": c.ready["address"], "endpoint_id": c.ready.get("endpoint_id"),
                                 "pid": c.proc.pid} for c in children if c.ready}}
            printer("local", "ready " + json.dumps(ready))
            printer("local", "addresses written to config.toml; Ctrl-C stops both")
        while not stop.wait(0.2):
            for child in children:
                if child.proc.poll() is not None:
                    reason.setdefault("died", child)
                    stop.set()
        died = reason.get("died")
        if died is not None:
            raise AsterError(f"the {died.name} stopped by itself (exit {died.proc.returncode}); the other was stopped "
                             "too", "its last lines above say why; run `aster local up` again")
        return 0
    finally:
        for child in reversed(children):
            child.stop()
        for child in children:
            for t in child.threads:
                t.join(2)
        if children:
            printer("local", "stopped " + " and ".join(c.name for c in children))
        for s, handler in old.items():
            signal.signal(s, handler)
