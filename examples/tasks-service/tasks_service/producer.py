"""Run TaskService as a producer: ``python -m tasks_service.producer [options]``.

Prints one JSON line when it serves (``address``: the aster1 ticket to call it at,
``endpoint_id``, ``services``), then serves until Ctrl-C, SIGTERM or ``--max-lifetime``.

- ``--identity FILE``: the node's ``.aster-identity`` (its node key and producer credential,
  e.g. from ``aster svc tasks provision``); default: the runtime's own choice
  (``./.aster-identity`` when there is one, where ``aster publish`` puts the registry token).
- ``--root-pubkey FILE``: admit only consumers whose credential this mesh root signed.
- ``--authority ADDR --deployment ID``: also refuse callers the authority revoked for that
  deployment (``aster_authority.gate``; needs ``aster-authority``). The authority gives the
  revocation list only to the deployments' own producers, so the gate connects with this
  producer's node key (``--identity``, from ``aster svc ID provision``).
- ``--advertise HOST``: the host the printed ticket names (127.0.0.1 for a local mesh);
  default: the addresses the runtime reports.
- ``--service MODULE:CLASS``: what to serve instead of TaskService, repeatable: a variant
  (``tasks_service.compatible:TaskService``) or the board (``tasks_service.board:TaskBoard``,
  ``tasks_service.board:Draft``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import signal
import sys
from typing import Any


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tasks_service.producer", description="Run TaskService.")
    parser.add_argument("--service", action="append", dest="services", metavar="MODULE:CLASS",
                        help="a service to serve (repeatable; default: tasks_service.contract:TaskService)")
    parser.add_argument("--identity", help="the node's .aster-identity file")
    parser.add_argument("--root-pubkey", help="the mesh root's public key file: admit only what it signed")
    parser.add_argument("--authority", help="authority address: refuse callers it revoked (with --deployment)")
    parser.add_argument("--deployment", help="the deployment id the gate checks (with --authority)")
    parser.add_argument("--refresh", type=float, default=1.0, help="seconds between revocation list reads")
    parser.add_argument("--advertise", help="host the printed ticket names (e.g. 127.0.0.1)")
    parser.add_argument("--max-lifetime", type=float, default=None, help="stop after this many seconds")
    args = parser.parse_args(argv)
    if bool(args.authority) != bool(args.deployment):
        parser.error("--authority and --deployment go together")
    args.services = args.services or ["tasks_service.contract:TaskService"]
    return args


def load_service(spec: str) -> Any:
    """What AsterServer takes for ``MODULE:CLASS``: an instance, or the class itself for a
    session-scoped service (the runtime makes one instance per session)."""
    module, _, name = spec.partition(":")
    cls = getattr(importlib.import_module(module), name or "TaskService")
    return cls if cls.__aster_service_info__.scoped == "session" else cls()


def ticket(server: Any, host: str | None) -> str:
    """The runtime's ticket, or one naming ``host`` on the port(s) the node listens on."""
    if not host:
        return server.address
    from aster import AsterTicket

    info = server.node.node_addr_info()
    ports = sorted({addr.rsplit(":", 1)[1] for addr in (info.direct_addresses or [])})
    return AsterTicket(endpoint_id=info.endpoint_id, direct_addrs=[f"{host}:{p}" for p in ports]).to_string()


async def serve(args: argparse.Namespace) -> int:
    from aster import AsterConfig, AsterServer

    config = AsterConfig.from_env()
    kwargs: dict[str, Any] = {"config": config}
    if args.identity:
        kwargs["identity"] = args.identity
    if args.root_pubkey:
        config.root_pubkey_file = args.root_pubkey
        kwargs["allow_all_consumers"] = False
    if args.authority:
        from aster.interceptors.deadline import DeadlineInterceptor
        from aster_authority.gate import AuthorityGate

        # giving interceptors replaces the runtime's default list (the deadline one): keep it
        kwargs["interceptors"] = [DeadlineInterceptor(),
                                  AuthorityGate(args.authority, args.deployment, refresh=args.refresh,
                                                identity=args.identity)]
    server = AsterServer([load_service(spec) for spec in args.services], **kwargs)
    await server.start()
    server.serve()
    print(json.dumps({"address": ticket(server, args.advertise), "endpoint_id": server.endpoint_id,
                      "services": [s.name for s in server.services]}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), timeout=args.max_lifetime)
    except asyncio.TimeoutError:
        pass
    await server.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    import aster  # noqa: F401  (the runtime before any event loop exists)

    return asyncio.run(serve(args))


if __name__ == "__main__":
    sys.exit(main())
