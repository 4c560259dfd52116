"""Run a real AsterServer on loopback for the contract tests.

    python -m tests.contract.serve [--max-lifetime SECONDS] MODULE:CLASS [MODULE:CLASS ...]

Started from the test's working directory, so the runtime's startup check
reads ``./.aster/manifest.json`` when the test put one there. Prints one JSON
line ``{"address": ..., "services": [...]}`` on stdout once serving; a refused
start prints the runtime's reason on stderr and exits 3.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import sys


def _load(spec: str) -> type:
    module_name, _, class_name = spec.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


async def _main(specs: list[str], lifetime: float) -> int:
    from aster import AsterServer

    services = []
    for spec in specs:
        cls = _load(spec)
        info = cls.__aster_service_info__
        # session-scoped services are instantiated per session by the runtime
        services.append(cls if info.scoped == "session" else cls())
    server = AsterServer(services=services, allow_all_consumers=True)
    try:
        await server.start()
    except Exception as exc:  # the startup manifest check raises RuntimeError
        print(f"server refused to start: {exc}", file=sys.stderr, flush=True)
        return 3
    summary = {
        "address": server.address,
        "services": [{"name": s.name, "version": s.version, "contract_id": s.contract_id}
                     for s in server.services],
    }
    print(json.dumps(summary), flush=True)
    try:
        await asyncio.wait_for(server.serve(), lifetime)  # never outlive a crashed test run
    except asyncio.TimeoutError:
        pass
    finally:
        await server.close()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())
    args = sys.argv[1:]
    max_lifetime = 120.0
    if args[:1] == ["--max-lifetime"]:
        max_lifetime, args = float(args[1]), args[2:]
    raise SystemExit(asyncio.run(_main(args, max_lifetime)))
