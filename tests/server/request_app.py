"""A server on aster_server.lifecycle whose handlers use aster_server.request, for test_request.py.

    python -m tests.server.request_app --state DIR [--root-pub FILE] [--max-lifetime S]

``LayerService.whoami`` answers the caller as :func:`aster_server.request.caller` sees it (on
the event loop and inside offloaded work); ``refuse`` raises the ``Refused`` the request
describes in offloaded work; ``fail`` raises one of :data:`FAILURES` there.
"""

# no `from __future__ import annotations`: the runtime reads the real annotation objects

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from aster import rpc, service, wire_type

NS = "asterservertest"


@wire_type(f"{NS}/Ask")
@dataclass
class Ask:
    kind: str = ""
    status: str = ""
    message: str = ""
    hint: str = ""
    field: str = ""


@wire_type(f"{NS}/Who")
@dataclass
class Who:
    endpoint_id: str = ""
    name: str = ""
    attributes_json: str = ""
    in_thread: str = ""


def _busy_database() -> None:
    """A real SQLite 'database is locked': another connection holds the write lock."""
    import sqlalchemy as sa

    path = Path(tempfile.mkdtemp()) / "busy.db"
    holder = sa.create_engine(f"sqlite:///{path}", connect_args={"isolation_level": None})
    waiter = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.05, "isolation_level": None})
    with holder.connect() as held:
        held.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            with waiter.connect() as conn:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
        finally:
            held.exec_driver_sql("ROLLBACK")
            holder.dispose()
            waiter.dispose()


def _failure(kind: str) -> None:
    from aster_core.errors import AsterError, DeniedError, NotFoundError, UnavailableError, UsageError

    if kind == "usage":
        raise UsageError("limit: -1 is negative", "pass 1 or more")
    if kind == "not_found":
        raise NotFoundError("no plan 7", "list the plans")
    if kind == "denied":
        raise DeniedError("not yours", None)
    if kind == "unavailable":
        raise UnavailableError("the engine is down", "start it")
    if kind == "failed":
        raise AsterError("plan 7 was already accepted", "propose a new plan")
    if kind == "rpc_status":
        error = AsterError("the deployment kept changing", "retry in a moment")
        error.rpc_status = "ABORTED"
        raise error
    if kind == "field":
        error = AsterError("not a deployment id", "use lowercase letters", exit_code=2)
        error.field = "deployment_id"
        raise error
    if kind == "busy":
        _busy_database()
    raise KeyError("secret-detail")


@service(name="LayerService", version=1)
class LayerService:
    @rpc
    async def whoami(self, req: Ask) -> Who:
        from aster_server.request import caller, offload

        who = caller()
        in_thread = await offload(lambda: caller().endpoint_id)
        return Who(endpoint_id=who.endpoint_id, name=who.name, attributes_json=json.dumps(dict(who.attributes)),
                   in_thread=in_thread)

    @rpc
    async def refuse(self, req: Ask) -> Who:
        from aster_server.request import Refused, offload

        def work() -> None:
            raise Refused(req.status, req.message, req.hint or None, req.field or None)

        await offload(work)
        return Who()

    @rpc
    async def fail(self, req: Ask) -> Who:
        from aster_server.request import offload

        await offload(_failure, req.kind)
        return Who()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--state", required=True)
    parser.add_argument("--root-pub", help="verify presented credentials against this root (open gate)")
    parser.add_argument("--max-lifetime", type=float, default=120)
    args = parser.parse_args(argv)

    from aster_server import lifecycle, nodekey

    key, _path, _created = nodekey.load_node_key(None, args.state)
    root = bytes.fromhex(Path(args.root_pub).read_text().strip()) if args.root_pub else None
    spec = lifecycle.ServerSpec(name="layer", services=[LayerService()], node_key=key, advertise=["127.0.0.1"],
                                root_pubkey=root)
    return lifecycle.run(spec, workdir=args.state, max_lifetime=args.max_lifetime, stop_on_stdin_eof=True)


if __name__ == "__main__":
    sys.exit(main())
