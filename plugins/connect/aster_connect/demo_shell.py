"""``aster shell --demo`` (and ``aster shell`` with no peer): the shell over a live sample peer.

The peer (:mod:`aster_connect.sample_peer`) runs in a child process on loopback for as long
as the shell does; it is stopped when the shell ends, whatever way it ends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from aster_core.errors import UnavailableError

#: seconds the sample peer may take to start (importing the runtime, binding, serving)
START_TIMEOUT = 30.0


def run_demo_shell(*, timeout: float, as_json: bool, air_gapped: bool) -> int:
    """Start the sample peer, run the shell against it, stop the peer; the shell's exit status."""
    from .shell import run_shell

    # the peer is on loopback: neither side waits for relay servers (offline machines included)
    os.environ["ASTER_RELAY_MODE"] = "disabled"
    env = dict(os.environ)
    peer = subprocess.Popen([sys.executable, "-m", "aster_connect.sample_peer"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    try:
        address = _ready_address(peer)
        if not as_json:
            print("Demo: a sample peer (service SampleMissions) runs on this machine until the shell ends.",
                  file=sys.stderr)
        return run_shell(address, rcan=None, timeout=timeout, as_json=as_json, air_gapped=air_gapped)
    finally:
        if peer.stdin:
            peer.stdin.close()  # the peer stops when its stdin closes
        try:
            peer.wait(timeout=5)
        except subprocess.TimeoutExpired:
            peer.kill()
            peer.wait()


def _ready_address(peer: subprocess.Popen) -> str:
    import selectors

    with selectors.DefaultSelector() as sel:
        sel.register(peer.stdout, selectors.EVENT_READ)
        if not sel.select(START_TIMEOUT):
            raise UnavailableError(f"the sample peer did not start within {START_TIMEOUT:g}s",
                                   "run it alone to see why: python -m aster_connect.sample_peer")
    line = peer.stdout.readline()
    try:
        return json.loads(line)["address"]
    except (ValueError, KeyError, TypeError):
        raise UnavailableError("the sample peer failed to start",
                               "run it alone to see why: python -m aster_connect.sample_peer") from None
