"""How a connection to the authority ends: the `aster` process closes it at once and leaves the
runtime's node to its exit (no graceful-close wait), with its output and exit code exactly those
of the graceful close; a process that goes on (library users, tests) frees each node."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from aster_core.testing import aster_executable, invoke

from aster_authority import wire
from aster_core.main import ends_with_command
from aster_authority.client.connection import Authority

RUNS = 30


def udp_sockets() -> int:
    """UDP sockets this process holds (a runtime node's endpoint holds some until it shuts down)."""
    ours = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            ours.add(link[8:-1])
    count = 0
    for table in ("/proc/self/net/udp", "/proc/self/net/udp6"):
        with open(table) as fh:
            count += sum(1 for line in fh.read().splitlines()[1:] if line.split()[9] in ours)
    return count


@pytest.mark.slow  # 30 processes, each dialing the authority
def test_the_aster_process_ends_as_after_a_graceful_close(sqlite_mesh):
    m = sqlite_mesh
    m.ok("dev", "sensors", "create", "--role", "telemetry")
    for args in (["dev", "sensors", "show"], ["dev", "sensors", "show", "--json"], ["svc", "list"],
                 ["authority", "status"]):  # (its --json holds a measured latency)
        # in-process, the process goes on: the graceful close, the output to match
        graceful = invoke(args, env=m.env(COLUMNS="120"), cwd=m.tmp)
        assert graceful.returncode == 0, graceful.stderr
        with ThreadPoolExecutor(3) as pool:
            runs = list(pool.map(lambda _: m.aster(*args, COLUMNS="120"), range(RUNS if args[-1] == "show" else 5)))
        for run in runs:
            assert (run.returncode, run.stdout, run.stderr) == (0, graceful.stdout, graceful.stderr), args


def test_an_error_after_a_closed_connection_keeps_its_line_and_code(sqlite_mesh):
    """The connection is closed at once, then the command fails: one Error line, its exit code."""
    m = sqlite_mesh
    out = m.aster("dev", "nothing-here", "show")
    assert out.returncode == 4 and out.stdout == "", (out.stdout, out.stderr)
    [line] = out.stderr.strip().splitlines()
    assert line.startswith("Error: ") and "Hint: " in line


def test_a_process_that_goes_on_shuts_each_node_down(sqlite_mesh):
    m = sqlite_mesh
    m.ok("dev", "sensors", "create", "--role", "telemetry")
    for _ in range(2):
        with Authority.open(m.server.address, str(m.admin_identity)) as auth:
            assert auth.call(wire.DEVICE_ADMIN, "template", wire.DeviceRef("sensors"))["deployment_id"] == "sensors"
            open_ = udp_sockets()
        assert udp_sockets() < open_  # the node's endpoint is gone
    assert not ends_with_command()  # pytest (as aster_core.testing.invoke) goes on after a command


ENDING = """
from tests.authority.test_closing import udp_sockets
from aster_core.main import main  # as the installed `aster` script does
from aster_authority import wire
from aster_core.main import ends_with_command
from aster_authority.cli.common import open_authority

auth = open_authority(None, None)
print(auth.call(wire.DEVICE_ADMIN, "template", wire.DeviceRef("sensors"))["deployment_id"], ends_with_command())
open_ = udp_sockets()
auth.close()
print(udp_sockets() == open_)
"""


def test_the_aster_process_leaves_the_node_to_its_exit(sqlite_mesh):
    """What open_authority gives the `aster` script: closed at once, the node left open (its
    sockets still there after close), then a clean exit: code 0, nothing on stderr."""
    m = sqlite_mesh
    m.ok("dev", "sensors", "create", "--role", "telemetry")
    assert "from aster_core.main import main" in Path(aster_executable()).read_text()
    env = {**os.environ, **m.env()}
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", ENDING], env=env, capture_output=True, text=True, timeout=60)
        assert (out.returncode, out.stdout, out.stderr) == (0, "sensors True\nTrue\n", "")
