"""The life of a command that talks to peers: run its event loop, close runtime clients, end.

- :func:`run` runs a coroutine with the runtime imported first (its loop policy);
- :func:`quiet_close` closes a runtime client within :data:`CLOSE_TIMEOUT` seconds, whatever
  happens (every family that holds an ``AsterClient`` closes it through here);
- :func:`close_client_before_exit` and :func:`exit_now` end a command whose output is
  complete without the draining wait and the interpreter's teardown (:func:`quiet_at_exit`
  when the interpreter's own exit ends it).
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any, Awaitable, NoReturn, TypeVar

__all__ = ["CLOSE_TIMEOUT", "run", "quiet_close", "close_client_before_exit", "exit_now", "quiet_at_exit"]

T = TypeVar("T")
#: seconds closing a connection may take (see :func:`quiet_close`)
CLOSE_TIMEOUT = 0.25
#: seconds left to the runtime's I/O thread to send the close frames (:func:`close_client_before_exit`)
SEND_CLOSE_S = 0.005


def run(coro: Awaitable[T]) -> T:
    """``asyncio.run`` for code that talks to peers: import the runtime first.

    Importing ``aster`` installs uvloop's event loop policy. With the standard
    asyncio loop the released runtime crashes (SIGSEGV/SIGABRT) at interpreter
    exit in about half of the runs (measured: 14 of 30 with ``ASTER_NO_UVLOOP=1``,
    0 of 30 with uvloop), so every command runs its loop through here.
    """
    import aster  # noqa: F401  (side effect: the runtime's loop policy)

    return asyncio.run(coro)  # type: ignore[arg-type]


async def close_client_before_exit(client: Any) -> None:
    """Close a runtime client's peer connections for a process that ends next, with :func:`exit_now`.

    The runtime's graceful close waits for the endpoint's QUIC draining
    period (measured: 80-90 ms on loopback, after the peer has already been
    told), and the interpreter's finalisation after it costs 40-60 ms more.
    Here each connection is closed with code 0 at once (the peer sees a
    normal close, as after a graceful one) and the endpoint is left to the
    process exit. A node with persistent storage (``ASTER_STORAGE_PATH``)
    is closed gracefully, so its store is flushed.
    """
    if getattr(getattr(client, "_config", None), "storage_path", None):
        await quiet_close(client)
        return
    conns = list(getattr(client, "_rpc_conns", {}).values())
    for conn in conns:
        conn.close(0, b"")
    try:
        await asyncio.wait_for(asyncio.gather(*(c.closed() for c in conns), return_exceptions=True),
                               CLOSE_TIMEOUT)
        await asyncio.sleep(SEND_CLOSE_S)
    except asyncio.TimeoutError:
        pass


def exit_now(code: int = 0) -> NoReturn:
    """End the process at once after :func:`close_client_before_exit`: flush, then ``os._exit``.

    Skips the interpreter's finalisation (and with it the runtime's endpoint
    teardown, which could print a Rust backtrace once Python is half gone).
    Only for the end of a command whose output is complete: atexit handlers
    do not run.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away (`| head`) is not an error here
            pass
    os._exit(code)


def quiet_at_exit() -> None:
    """Point stderr at the null device at exit, once every message of ours is out: for a process
    that ends through the interpreter's own exit (its exit code and atexit handlers as usual)
    after :func:`close_client_before_exit`, leaving the runtime's endpoint for the teardown, whose
    threads may print a Rust backtrace once Python is half gone."""
    _quiet_exit()


async def quiet_close(client: Any) -> None:
    """Close the runtime's client within :data:`CLOSE_TIMEOUT` seconds, whatever happens.

    Closing a client whose dial failed waits for the node's endpoint to shut
    down (measured: 3 s after a dial to an address nobody listens at), which
    would make every ``--timeout`` a lie; what is left is dropped at exit.
    """
    try:
        await asyncio.wait_for(client.close(), CLOSE_TIMEOUT)
    except asyncio.TimeoutError:
        _quiet_exit()
    except Exception:
        pass


_quieted = False


def _quiet_exit() -> None:
    """After a close was cut short, silence stderr once our own last word is out.

    The runtime's threads still hold what the abandoned close was doing; when
    the interpreter finalises, one of them may panic trying to call back into
    Python and print a Rust backtrace to stderr after our one error line. At
    exit (after every message of ours) stderr is pointed at the null device.
    """
    global _quieted
    if _quieted:
        return
    _quieted = True
    import atexit

    def silence() -> None:
        try:
            sys.stderr.flush()
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        except (OSError, ValueError):
            pass

    atexit.register(silence)
