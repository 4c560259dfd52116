"""Run a real AsterServer with the harness services; print one JSON line when ready.

Usage (from the repository root, so ``tests.support`` is importable)::

    python -m tests.support.serve --services echo,session,v2,vault \
        [--root-pubkey-file F] [--identity PATH] [--manifest PATH | --workdir DIR] [--max-lifetime 300]

``--services`` takes harness keys (``tests.support.services``) and/or ``MODULE:CLASS``
specs such as ``tests.contract.services.shop:Inventory`` (session-scoped classes are
passed as classes, the others instantiated).

The server runs in a fresh temp directory unless ``--workdir DIR`` is given: then it runs
in DIR, which is also put on ``sys.path``, so the runtime's start-up check reads
``DIR/.aster/manifest.json`` (and picks up ``DIR/.aster-identity``) and specs may name
modules living there.

Without ``--root-pubkey-file`` the consumer gate is open (every client admitted).
With it, the server trusts that root key (read by the runtime's own loader) and
admits only consumers presenting a credential signed by it. With ``--identity`` and no
``--root-pubkey-file`` the gate is left to the runtime (the ready line's ``mode`` says
what it chose).

The ready line on stdout (a single JSON object) carries ``address`` (an ``aster1``
ticket advertising only 127.0.0.1), ``ticket`` (same), ``node_addr`` (base64 NodeAddr,
loopback only), ``runtime_address`` (the runtime's own ticket, all interfaces),
``endpoint_id``, ``mode``, ``root_pubkey``, ``registry_namespace``, ``services`` and
``contract_ids``. On a start-up failure a single ``{"error": ...}`` line is printed and
the exit status is 3.

The server stops on SIGTERM/SIGINT, when stdin reaches EOF (the parent went away), or
after ``--max-lifetime`` seconds, whichever comes first. The runtime's iroh endpoint
listens on the wildcard address (AsterServer does not pass ``bind_addr`` through);
only loopback addresses are advertised.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import signal
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

from aster_server.lifecycle import watch_stdin  # the servers' own stop-on-parent-exit

EXIT_START_FAILED = 3
REPO_ROOT = Path(__file__).resolve().parents[2]


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.support.serve")
    parser.add_argument("--services", default="echo,session,v2",
                        help="comma-separated keys from tests.support.services.SERVICE_FACTORIES "
                             "and/or MODULE:CLASS specs")
    parser.add_argument("--root-pubkey-file", default=None,
                        help="trusted root public key (bare hex or JSON); enables the consumer gate")
    parser.add_argument("--identity", default=None, help="producer .aster-identity file")
    place = parser.add_mutually_exclusive_group()
    place.add_argument("--manifest", default=None,
                       help="contract manifest to verify at start-up (copied to a fresh temp cwd "
                            "as .aster/manifest.json)")
    place.add_argument("--workdir", default=None,
                       help="run in this directory (default: a fresh temp directory); its "
                            ".aster/manifest.json is checked and it is importable")
    parser.add_argument("--max-lifetime", type=float, default=300.0,
                        help="hard self-stop after this many seconds (default 300)")
    return parser.parse_args(argv)


def _prepare_workdir(manifest: str | None) -> Path:
    """A fresh cwd, so no stray .aster/manifest.json or .aster-identity is picked up.

    The runtime only verifies ``<cwd>/.aster/manifest.json``, so a given manifest is
    copied there.
    """
    workdir = Path(tempfile.mkdtemp(prefix="aster-harness-server-"))
    if manifest:
        target = workdir / ".aster" / "manifest.json"
        target.parent.mkdir()
        shutil.copyfile(manifest, target)
    return workdir


def loopback_addresses(server: Any) -> tuple[str, str]:
    """(aster1 ticket, base64 NodeAddr) naming only 127.0.0.1 and the node's port(s)."""
    from aster import AsterTicket, NodeAddr

    info = server.node.node_addr_info()
    ports = sorted({addr.rsplit(":", 1)[1] for addr in (info.direct_addresses or [])})
    direct = [f"127.0.0.1:{port}" for port in ports]
    ticket = AsterTicket(endpoint_id=info.endpoint_id, direct_addrs=direct).to_string()
    node_addr = NodeAddr(endpoint_id=info.endpoint_id, relay_url=None, direct_addresses=direct)
    return ticket, base64.b64encode(node_addr.to_bytes()).decode()


def _ready_info(server: Any, keys: list[str]) -> dict[str, Any]:
    ticket, node_addr = loopback_addresses(server)
    summaries = server.services
    names = [s.name for s in summaries]
    contract_ids: dict[str, str] = {}
    for s in summaries:
        contract_ids[f"{s.name}@v{s.version}"] = s.contract_id
        if names.count(s.name) == 1:
            contract_ids[s.name] = s.contract_id
    root = server.root_pubkey
    return {
        "address": ticket,
        "ticket": ticket,
        "node_addr": node_addr,
        "runtime_address": server.address,
        "endpoint_id": server.endpoint_id,
        "mode": "open-gate" if server._allow_all_consumers else "trusted",
        "root_pubkey": root.hex() if root else None,
        "registry_namespace": server._registry_namespace,
        "service_keys": keys,
        "services": [
            {"name": s.name, "version": s.version, "contract_id": s.contract_id,
             "scoped": s.pattern}
            for s in summaries
        ],
        "contract_ids": contract_ids,
        "pid": os.getpid(),
        "workdir": os.getcwd(),
    }


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def _run(args: argparse.Namespace) -> int:
    from aster import AsterConfig, AsterServer

    from tests.support.services import build_services

    keys = [k.strip() for k in args.services.split(",") if k.strip()]
    try:
        services = build_services(keys)
        config = AsterConfig.from_env()
        kwargs: dict[str, Any] = {"config": config}
        if args.identity:
            kwargs["identity"] = args.identity
        if args.root_pubkey_file:
            config.root_pubkey_file = args.root_pubkey_file
            kwargs["allow_all_consumers"] = False
        elif not args.identity:
            kwargs["allow_all_consumers"] = True
        # --identity alone: the runtime decides the gate itself (0.1.2 opens it).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the runtime's open-gate warning
            server = AsterServer(services, **kwargs)
            await server.start()
        server.serve()
    except Exception as exc:  # noqa: BLE001 - reported to the parent as one JSON line
        _emit({"error": f"{type(exc).__name__}: {exc}"})
        return EXIT_START_FAILED

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watch_stdin(loop, stop)
    try:
        _emit(_ready_info(server, keys))
        try:
            await asyncio.wait_for(stop.wait(), timeout=args.max_lifetime)
        except asyncio.TimeoutError:
            print(f"serve: max lifetime {args.max_lifetime}s reached, stopping", file=sys.stderr)
    finally:
        try:
            await asyncio.wait_for(server.close(), timeout=5)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - exiting anyway
            pass
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if str(REPO_ROOT) not in sys.path:  # the cwd changes below; keep tests.support importable
        sys.path.insert(0, str(REPO_ROOT))
    os.environ.setdefault("ASTER_RELAY_MODE", "disabled")
    if args.manifest:
        args.manifest = os.path.abspath(args.manifest)
    for name in ("root_pubkey_file", "identity"):
        value = getattr(args, name)
        if value:
            setattr(args, name, os.path.abspath(value))
    if args.workdir:
        workdir = Path(args.workdir).resolve()
        sys.path.insert(0, str(workdir))
    else:
        workdir = _prepare_workdir(args.manifest)
    os.chdir(workdir)
    try:
        import aster  # noqa: F401  (before the event loop exists: see docs/runtime-notes.md)

        return asyncio.run(_run(args))
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
