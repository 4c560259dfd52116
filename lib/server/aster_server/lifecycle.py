"""Server lifecycle shared by the servers: node key, start, ready lines, request log, stop.

    spec = ServerSpec(name="registry", services=[ProfileService(...), ...],
                      node_key=load_node_key(identity, state_dir("registry")),  # aster_server.nodekey
                      health=lambda: {...}, background=[reaper])
    exit_code = run(spec)            # blocks until SIGTERM/SIGINT (or max_lifetime)

What :func:`run` does, in order: builds an ``AsterServer`` (aster-rpc 0.1.2) whose node key is
``spec.node_key`` (so the endpoint id survives restarts) and whose first interceptor logs one
line per call however it ends (:mod:`aster_server.requestlog`); starts it; prints one JSON *ready line* on stdout and one human line
on stderr; runs the background tasks; waits for SIGTERM/SIGINT (or stdin EOF when asked,
or ``max_lifetime``); then stops the background tasks, closes the server within
``grace`` seconds and runs ``spec.on_stop``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import signal
import stat
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator, Sequence

from aster_core.errors import AsterError, UsageError

from .nodekey import state_dir
from .requestlog import RequestLog, current_call

__all__ = ["ServerSpec", "addresses", "build_server", "configure_logging", "current_call", "health_info",
           "parse_bind", "run", "serve", "watch_stdin", "worker_count"]

LOG = logging.getLogger("aster_server")


# ---------------------------------------------------------------------------- spec


@dataclass
class ServerSpec:
    """What a server family hands to :func:`run`.

    ``services``: ``@service`` instances (the AsterServer ``services`` list).
    ``node_key``: 32 bytes (from :func:`load_node_key`).
    ``allow_all_consumers``: open gate (the registry) or closed (then ``root_pubkey``). With the
    open gate and a ``root_pubkey``, callers without a credential are admitted with no attributes
    and callers presenting one are checked against that root (the authority).
    ``health``: returns a JSON-able dict; it is in the ready line and :func:`health_info`.
    ``background``: coroutine functions ``fn(stop: asyncio.Event)`` run while serving
    (e.g. a reaper); they are cancelled at stop if still running.
    ``on_stop``: called after the server closed (e.g. ``engine.dispose``).
    ``advertise``: hosts for the printed ticket (``--bind``); empty: what the runtime reports.
    ``interceptors``: extra runtime interceptors, after the deadline and request-log ones.
    ``extra_ready``: more keys for the ready line (e.g. database, mail).
    ``workers``: threads the handlers' work (``aster_server.request.offload``) runs on; ``None``:
    the event loop's default pool (min(32, cores + 4)). ``ASTER_SERVER_WORKERS`` overrides it.
    Fewer threads contend less for the interpreter (SQLite takes one writer at a time anyway):
    measured at 50 clients, the registry's publish 125/s with one thread vs 91-102/s with the
    default pool, the authority's plan list 11-27% less CPU per request with one or two. But a
    slow piece of work (a mail to a slow SMTP server, a word query over a million services) holds
    its thread, and the calls behind it wait: the authority on SQLite runs two, the registry
    (mail, big searches) the default pool.
    """

    name: str
    services: list[Any]
    node_key: bytes
    allow_all_consumers: bool = True
    root_pubkey: bytes | None = None
    health: Callable[[], dict[str, Any]] | None = None
    background: list[Callable[[asyncio.Event], Awaitable[None]]] = field(default_factory=list)
    on_stop: list[Callable[[], None]] = field(default_factory=list)
    advertise: Sequence[str] = ()
    interceptors: list[Any] = field(default_factory=list)
    extra_ready: dict[str, Any] = field(default_factory=dict)
    workers: int | None = None


# ---------------------------------------------------------------------------- logging


def configure_logging(level: str | None = None) -> None:
    """Log lines of the ``aster_server`` loggers go to stderr as
    ``<UTC time> <LEVEL> <logger>: <message>``; the level comes from ``level``,
    ``ASTER_SERVER_LOG_LEVEL`` or ``info``."""
    root = logging.getLogger("aster_server")
    root.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%SZ")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel((level or os.environ.get("ASTER_SERVER_LOG_LEVEL") or "info").upper())
    root.propagate = False


# ---------------------------------------------------------------------------- addresses


def addresses(server: Any, advertise: Sequence[str] = ()) -> dict[str, str]:
    """``{"address": aster1 ticket, "node_addr": base64 NodeAddr, "endpoint_id": hex}``.

    With ``advertise`` hosts, the ticket names only those hosts (on the port(s) the node
    listens on); otherwise it is the runtime's own ticket.
    """
    from aster import AsterTicket, NodeAddr

    info = server.node.node_addr_info()
    if not advertise:
        return {"address": server.address, "node_addr": server.endpoint_addr_b64, "endpoint_id": server.endpoint_id}
    ports = sorted({addr.rsplit(":", 1)[1] for addr in (info.direct_addresses or [])})
    direct = [f"{host}:{port}" for host in advertise for port in ports]
    ticket = AsterTicket(endpoint_id=info.endpoint_id, direct_addrs=direct).to_string()
    node_addr = NodeAddr(endpoint_id=info.endpoint_id, relay_url=None, direct_addresses=direct)
    return {"address": ticket, "node_addr": base64.b64encode(node_addr.to_bytes()).decode(),
            "endpoint_id": server.endpoint_id}


def parse_bind(values: Sequence[str]) -> list[str]:
    """Hosts from ``--bind HOST`` values (``HOST:PORT`` and ``[v6]`` accepted; the port must
    be absent or 0, since aster-rpc 0.1.2 picks its own)."""
    hosts: list[str] = []
    for value in values:
        text = value.strip()
        host, port = text, ""
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            port = rest.removeprefix(":")
        elif text.count(":") == 1:
            host, port = text.split(":")
        if not host or (port and port != "0"):
            raise UsageError(f"--bind {value!r}: give a host (e.g. 127.0.0.1)",
                             "aster-rpc 0.1.2 chooses the port itself; --bind names the address to advertise")
        hosts.append(f"[{host}]" if ":" in host else host)
    return hosts


# ---------------------------------------------------------------------------- run


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def watch_stdin(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Set ``stop`` when stdin, if it is a pipe, reaches EOF (the parent went away).

    A terminal or /dev/null stdin is not watched (``cmd &`` in a script gets /dev/null).
    """
    try:
        fd = sys.stdin.fileno()
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return
    except (OSError, ValueError, AttributeError):
        return

    def _readable() -> None:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(fd)
            stop.set()

    os.set_blocking(fd, False)
    loop.add_reader(fd, _readable)


async def build_server(spec: ServerSpec, workdir: Path, request_log: RequestLog | None = None) -> Any:
    """A started (not yet serving) ``AsterServer`` for ``spec``.

    The runtime reads ``./.aster-identity`` and ``./.aster/manifest.json`` of the current
    directory; the server is started in ``workdir`` (its state dir) with the identity file
    pointed away, so a project directory the operator happens to be in changes nothing.
    """
    from aster import AsterConfig, AsterServer
    from aster.interceptors.deadline import DeadlineInterceptor

    from aster_core.filemodes import private_dir

    from .admission import hold_admission_connections

    hold_admission_connections()  # a burst of new clients loses none (aster_server.admission)
    config = AsterConfig.from_env()
    config.identity_file = str(workdir / "no-such-dir" / ".aster-identity")
    config.secret_key = spec.node_key
    config.storage_path = None
    # the request log first: it must see the calls the deadline interceptor refuses
    kwargs: dict[str, Any] = {"config": config,
                              "interceptors": [request_log or RequestLog(spec.name), DeadlineInterceptor(),
                                                               *spec.interceptors]}
    kwargs["allow_all_consumers"] = bool(spec.allow_all_consumers)
    if spec.root_pubkey is not None or not spec.allow_all_consumers:
        # with the open gate too: a consumer that presents a credential is then verified
        # against this root and its attributes reach the method-level capability checks
        kwargs["root_pubkey"] = spec.root_pubkey
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the runtime's open-gate warning per service
        server = AsterServer(spec.services, **kwargs)
        private_dir(workdir)  # the server's state: its node key, its database by default
        with _cwd(workdir):
            await server.start()
    from .codecs import resolve_annotations, server_codec, warm

    codec = server_codec(server)
    # annotations resolved once: the runtime reads them on every message it decodes
    resolve_annotations(getattr(codec, "registered_types", None))
    # every message type encoded once, leaves first: a list of messages then costs microseconds,
    # not a serializer rebuilt per entry (see aster_server.codecs)
    warm(codec)
    return server


def health_info(spec: ServerSpec, server: Any, started_at: float) -> dict[str, Any]:
    """Health of a running server: uptime, services, plus ``spec.health()``."""
    info: dict[str, Any] = {"server": spec.name, "pid": os.getpid(), "uptime_s": round(time.time() - started_at, 1),
                            "endpoint_id": server.endpoint_id,
                            "services": [{"name": s.name, "version": s.version, "contract_id": s.contract_id}
                                         for s in server.services]}
    if spec.health is not None:
        try:
            info.update(spec.health())
        except Exception as exc:  # noqa: BLE001 - health must not take the server down
            info["health_error"] = f"{type(exc).__name__}: {exc}"
    return info


async def serve(spec: ServerSpec, *, workdir: Path, max_lifetime: float | None = None,
                stop_on_stdin_eof: bool = False, grace: float = 5.0,
                ready: Callable[[dict[str, Any]], None] | None = None) -> int:
    """Run ``spec`` until a stop signal; return the exit status (0)."""
    configure_logging()
    log = logging.getLogger(f"aster_server.{spec.name}")
    started_at = time.time()
    workers = worker_count(spec)  # a bad ASTER_SERVER_WORKERS is refused before anything starts
    try:
        request_log = RequestLog(spec.name)
        server = await build_server(spec, workdir, request_log)
    except BaseException as exc:
        for fn in spec.on_stop:
            with contextlib.suppress(Exception):
                fn()
        if isinstance(exc, (AsterError, KeyboardInterrupt, asyncio.CancelledError)):
            raise
        raise AsterError(f"cannot start the {spec.name} server: {type(exc).__name__}: {exc}",
                         "see the log above; ASTER_DEBUG=1 shows the traceback") from exc
    loop = asyncio.get_running_loop()
    if workers:
        from concurrent.futures import ThreadPoolExecutor

        loop.set_default_executor(ThreadPoolExecutor(workers, thread_name_prefix=f"{spec.name}-worker"))
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def _log_health() -> None:
        async def _emit() -> None:
            info = await asyncio.to_thread(health_info, spec, server, started_at)
            log.info("health %s", json.dumps(info, default=str))
        loop.create_task(_emit())

    loop.add_signal_handler(signal.SIGUSR1, _log_health)
    if stop_on_stdin_eof:
        watch_stdin(loop, stop)
    tasks: list[asyncio.Task[Any]] = []
    try:
        server.serve()
        line = {"event": "ready", "server": spec.name, **addresses(server, spec.advertise),
                "pid": os.getpid(),
                "services": [{"name": s.name, "version": s.version, "contract_id": s.contract_id}
                             for s in server.services],
                **spec.extra_ready}
        (ready or _print_ready)(line)
        print(f"aster {spec.name} serving {len(line['services'])} services at {line['address']} "
              f"(endpoint {line['endpoint_id']})", file=sys.stderr, flush=True)
        for fn in spec.background:
            tasks.append(asyncio.create_task(fn(stop), name=f"{spec.name}-{getattr(fn, '__name__', 'task')}"))
        from .memory import trim_when_idle

        tasks.append(asyncio.create_task(trim_when_idle(request_log, stop), name=f"{spec.name}-trim"))
        try:
            await asyncio.wait_for(stop.wait(), timeout=max_lifetime)
        except asyncio.TimeoutError:
            log.info("max lifetime %ss reached, stopping", max_lifetime)
        log.info("stopping")
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=grace)
        with contextlib.suppress(asyncio.TimeoutError, Exception):
            await asyncio.wait_for(server.close(), timeout=grace)
        for fn in spec.on_stop:
            with contextlib.suppress(Exception):
                fn()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
    log.info("stopped")
    return 0


def worker_count(spec: ServerSpec) -> int | None:
    """The threads ``spec``'s work runs on: ``ASTER_SERVER_WORKERS`` if set, else ``spec.workers``
    (``None``: the loop's default pool)."""
    text = os.environ.get("ASTER_SERVER_WORKERS", "").strip()
    if not text:
        return spec.workers
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"ASTER_SERVER_WORKERS={text!r} is not a number of threads", "set it to 1 or more, or unset it")
    return int(text)


def _print_ready(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def run(spec: ServerSpec, *, workdir: str | os.PathLike[str] | None = None, **kwargs: Any) -> int:
    """Blocking :func:`serve`: imports the runtime before the event loop exists (see
    docs/runtime-notes.md), then ``asyncio.run``. ``workdir`` defaults to
    :func:`aster_server.nodekey.state_dir` of ``spec.name``."""
    import aster  # noqa: F401  (uvloop policy before any loop; avoids the exit crash)

    return asyncio.run(serve(spec, workdir=Path(workdir) if workdir else state_dir(spec.name), **kwargs))
