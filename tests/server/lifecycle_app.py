"""A minimal server on aster_server.lifecycle (the harness EchoService), for test_lifecycle.py.

    python -m tests.server.lifecycle_app --state DIR [--identity FILE] [--bind HOST] [--max-lifetime S]
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--state", required=True)
    parser.add_argument("--identity")
    parser.add_argument("--bind", action="append", default=[])
    parser.add_argument("--max-lifetime", type=float, default=120)
    args = parser.parse_args(argv)

    from aster_core.errors import AsterError
    from aster_server import lifecycle, nodekey

    try:
        key, path, created = nodekey.load_node_key(args.identity, args.state)
        hosts = lifecycle.parse_bind(args.bind)
    except AsterError as exc:
        print(f"Error: {exc.message}. Hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    from tests.support.services import build_services

    stopped: list[str] = []
    spec = lifecycle.ServerSpec(
        name="demo", services=build_services(["echo"]), node_key=key, advertise=hosts,
        health=lambda: {"ok": True}, extra_ready={"key_file": str(path), "key_created": created},
        on_stop=[lambda: print("on_stop ran", file=sys.stderr, flush=True)])

    async def ticker(stop):
        import asyncio
        while not stop.is_set():
            await asyncio.sleep(0.05)
        stopped.append("ticker")

    spec.background.append(ticker)
    return lifecycle.run(spec, workdir=args.state, max_lifetime=args.max_lifetime, stop_on_stdin_eof=True)


if __name__ == "__main__":
    sys.exit(main())
