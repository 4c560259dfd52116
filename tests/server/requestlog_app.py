"""A server on aster_server.lifecycle whose calls end every way a call can, for test_request_log.py.

    python -m tests.server.requestlog_app --state DIR [--max-lifetime S]

``NapService.nap`` sleeps on the event loop for ``seconds`` (a handler the runtime abandons at
the deadline); ``work`` sleeps in offloaded work (``aster_server.request.offload``); ``refuse``
raises a ``Refused`` with ``status``.
"""

# no `from __future__ import annotations`: the runtime reads the real annotation objects

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass

from aster import rpc, service, wire_type

NS = "asterservertest"


@wire_type(f"{NS}/Nap")
@dataclass
class Nap:
    seconds: float = 0.0
    status: str = ""


@service(name="NapService", version=1)
class NapService:
    @rpc
    async def nap(self, req: Nap) -> Nap:
        await asyncio.sleep(req.seconds)
        return Nap(seconds=req.seconds)

    @rpc
    async def work(self, req: Nap) -> Nap:
        from aster_server.request import offload

        await offload(time.sleep, req.seconds)
        return Nap(seconds=req.seconds)

    @rpc
    async def refuse(self, req: Nap) -> Nap:
        from aster_server.request import Refused, rpc_error

        raise rpc_error(Refused(req.status, "refused as asked", field="status"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--state", required=True)
    parser.add_argument("--max-lifetime", type=float, default=120)
    args = parser.parse_args(argv)

    from aster_server import lifecycle, nodekey

    key, _path, _created = nodekey.load_node_key(None, args.state)
    spec = lifecycle.ServerSpec(name="naps", services=[NapService()], node_key=key, advertise=["127.0.0.1"])
    return lifecycle.run(spec, workdir=args.state, max_lifetime=args.max_lifetime, stop_on_stdin_eof=True)


if __name__ == "__main__":
    sys.exit(main())
