"""A real producer with a small sample service, for ``aster shell --demo`` (and ``aster shell``
with no peer, the released 0.1.2 CLI's demo mode).

0.1.2's demo shell showed canned data; this one explores and calls a live peer on loopback,
so everything the shell does (``ls``, ``describe``, calls, streams) is what it does against a
real mesh. ``python -m aster_connect.sample_peer`` runs it open-gate (every consumer
admitted), prints one JSON line ``{"address": "aster1..."}`` when ready and stops when its
stdin closes (the shell that started it went away) or on SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from typing import AsyncIterator

from aster import rpc, server_stream, service, wire_type

NS = "astersample"


@wire_type(f"{NS}/Mission")
@dataclass
class Mission:
    name: str = ""
    status: str = ""
    crew: int = 0


@wire_type(f"{NS}/StatusRequest")
@dataclass
class StatusRequest:
    name: str = ""


@wire_type(f"{NS}/ListRequest")
@dataclass
class ListRequest:
    status: str = ""


@wire_type(f"{NS}/MissionList")
@dataclass
class MissionList:
    missions: list[Mission] = field(default_factory=list)


@wire_type(f"{NS}/TickRequest")
@dataclass
class TickRequest:
    count: int = 3


@wire_type(f"{NS}/Tick")
@dataclass
class Tick:
    number: int = 0


MISSIONS = [Mission("aurora", "active", 4), Mission("borealis", "planned", 2), Mission("cygnus", "done", 3)]


@service(name="SampleMissions", version=1)
class SampleMissions:
    """Sample data to explore: missions by name and status, and a short stream."""

    @rpc
    async def status(self, req: StatusRequest) -> Mission:
        """One mission by name (an empty one when there is none)."""
        return next((m for m in MISSIONS if m.name == req.name), Mission(name=req.name, status="unknown"))

    @rpc
    async def missions(self, req: ListRequest) -> MissionList:
        """Every mission, or those with the given status."""
        return MissionList([m for m in MISSIONS if not req.status or m.status == req.status])

    @server_stream
    async def ticks(self, req: TickRequest) -> AsyncIterator[Tick]:
        """Count from 1 to count (at most 100), one message each."""
        for number in range(1, min(max(req.count, 0), 100) + 1):
            yield Tick(number)


async def _serve() -> int:
    from aster import AsterConfig, AsterServer, AsterTicket

    server = AsterServer([SampleMissions()], config=AsterConfig.from_env(), allow_all_consumers=True)
    await server.start()
    server.serve()
    info = server.node.node_addr_info()
    ports = sorted({addr.rsplit(":", 1)[1] for addr in (info.direct_addresses or [])})
    ticket = AsterTicket(endpoint_id=info.endpoint_id, direct_addrs=[f"127.0.0.1:{p}" for p in ports]).to_string()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_reader(sys.stdin.fileno(), lambda: sys.stdin.read(1) or stop.set())
    print(json.dumps({"address": ticket}), flush=True)
    try:
        await stop.wait()
    finally:
        await asyncio.wait_for(server.close(), timeout=5)
    return 0


def main() -> int:
    import shutil

    os.environ["ASTER_RELAY_MODE"] = "disabled"  # loopback only: no relay to wait for
    workdir = tempfile.mkdtemp(prefix="aster-sample-peer-")
    os.chdir(workdir)  # no stray manifest or identity picked up
    try:
        return asyncio.run(_serve())
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
