"""One connection to the authority, driven from synchronous code: calls, paging, errors.

    with Authority.open(address=None, rcan=None) as auth:     # --authority / --rcan or the settings
        auth.call(ADMIN, "show", DeploymentRef("service", "payments"))
        auth.pages(ADMIN, "plan_list", Page("service", "payments"), limit=100, all_pages=True)

Requests are the types of :mod:`aster_authority.wire` (a plain dict is sent as it is); every
answer is the reply's JSON document.

Where the authority is and which credential to present: :mod:`.settings`. The event loop
runs in a worker thread of its own so the synchronous library functions (and click) stay
simple.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Iterator

from aster_core.errors import AsterError, DeniedError, ExitCode, NotFoundError, UnavailableError, UsageError
from aster_core.jsonlimits import loads_limited

from ..wire import DEFAULT_LIMIT, HINT_SEP, MAX_LIMIT, as_object
from .settings import admin_credential, authority_address, call_timeout
from .signer import load_signer

#: the largest answer read from an authority (`plan list --all` over 10,000 plans is a few MiB)
MAX_REPLY = 64 * 1024 * 1024

TIMEOUT = 20.0
_EXIT = {"INVALID_ARGUMENT": ExitCode.USAGE, "CONTRACT_VIOLATION": ExitCode.USAGE, "NOT_FOUND": ExitCode.NOT_FOUND,
         "PERMISSION_DENIED": ExitCode.DENIED, "UNAUTHENTICATED": ExitCode.DENIED,
         "UNAVAILABLE": ExitCode.UNAVAILABLE, "DEADLINE_EXCEEDED": ExitCode.UNAVAILABLE}


#: statuses of an answer refusing the call: the authority changed nothing (each store operation is
#: one transaction, rolled back by any refusal). A deadline, a lost connection, UNAVAILABLE
#: (also what a vanished peer gives) or INTERNAL leave the outcome unknown.
REFUSALS = frozenset({"INVALID_ARGUMENT", "CONTRACT_VIOLATION", "OUT_OF_RANGE", "NOT_FOUND", "UNIMPLEMENTED",
                      "ALREADY_EXISTS", "PERMISSION_DENIED", "UNAUTHENTICATED", "FAILED_PRECONDITION"})


def refused(exc: BaseException) -> bool:
    """True when ``exc`` is the authority's answer refusing a call, so nothing it asked for was
    done; False when the outcome is unknown (no answer in time, connection lost, ...)."""
    return getattr(exc, "status", None) in REFUSALS


def _error(exc: Exception) -> AsterError:
    """A runtime/connect error as one of ours: the server's message and hint, the right exit code,
    and the call's status as ``status`` (None when there was no answer)."""
    status = getattr(exc, "status", None)
    detail = getattr(exc, "detail", None) or getattr(exc, "message", None) or str(exc)
    if status == "PERMISSION_DENIED" and "capability check failed" in detail:
        err: AsterError = DeniedError("the authority refused: this credential does not hold the role authority.admin",
                                      "pass --rcan FILE with an admin credential (aster enroll node --role consumer "
                                      "--name ops --capabilities authority.admin)")
    else:
        message, _, hint = str(detail).partition(HINT_SEP)
        if isinstance(exc, AsterError) and not hint:
            return exc
        err = AsterError(message.rstrip("."), hint or None, exit_code=_EXIT.get(status or "", ExitCode.FAILED))
    err.status = status  # type: ignore[attr-defined]
    return err


class Authority:
    """One admitted connection to the authority, driven from synchronous code."""

    def __init__(self, address: str, rcan: str | None, *, node_identity: str | None = None,
                 timeout: float | None = None):
        self.address = address
        self.rcan = rcan
        self.timeout = call_timeout(TIMEOUT) if timeout is None else timeout
        self._node_identity = node_identity
        #: the admin's or reviewer's signing key and credential (None: connecting as a node, or --rcan is
        #: a bare credential): decisions are signed with it and its credential is shown on each call
        self.signer = load_signer(rcan) if node_identity is None else None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._conn: Any = None
        self._ends_process = False

    @classmethod
    def open(cls, address: str | None = None, rcan: str | None = None, **kw: Any) -> "Authority":
        """Connect as the admin or reviewer of ``rcan``. In the `aster` process, which ends with
        its command, the connection ends with it (:meth:`end_with_process`); elsewhere each close
        frees its node."""
        return cls(authority_address(address), admin_credential(rcan), **kw)._started()

    @classmethod
    def as_node(cls, address: str | None, identity: str | os.PathLike, **kw: Any) -> "Authority":
        """Connect with the node key of ``identity`` and no credential (node-facing methods only);
        closed as :meth:`open`'s."""
        return cls(authority_address(address), None, node_identity=str(identity), **kw)._started()

    def _started(self) -> "Authority":
        from aster_core.main import ends_with_command

        if ends_with_command():
            self.end_with_process()
        self._start()
        return self

    def _start(self) -> None:
        import aster  # noqa: F401  (the runtime's loop policy before any loop: see docs/runtime-notes.md)

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="aster-authority", daemon=True)
        self._thread.start()
        try:
            self._conn = self._wait(self._connect())  # connect() retries an admission the peer dropped
        except BaseException:
            self.close()
            raise

    def _wait(self, coro: Any) -> Any:
        assert self._loop is not None
        return self._result(asyncio.run_coroutine_threadsafe(coro, self._loop))

    def _result(self, future: Any) -> Any:
        try:
            return future.result(self.timeout + 5)
        except AsterError as exc:
            raise _error(exc) from None
        except TimeoutError:
            future.cancel()
            raise UnavailableError(f"the authority did not answer within {self.timeout:g}s",
                                   "check that `aster authority serve` runs and the address is current") from None

    async def _connect(self) -> Any:
        from aster_connect.client import connect

        if self._node_identity is None:
            return await connect(self.address, rcan=self.rcan, timeout=self.timeout, schemas=False)
        with _node_only_identity(Path(self._node_identity)) as path:
            saved = {k: os.environ.pop(k, None) for k in ("ASTER_ENROLLMENT_CREDENTIAL", "ASTER_IDENTITY_FILE")}
            os.environ["ASTER_IDENTITY_FILE"] = str(path)
            try:
                return await connect(self.address, rcan=None, timeout=self.timeout, schemas=False)
            finally:
                os.environ.pop("ASTER_IDENTITY_FILE", None)
                for k, v in saved.items():
                    if v is not None:
                        os.environ[k] = v

    def call(self, service: str, method: str, request: Any) -> Any:
        """One call: ``request`` is a :mod:`aster_authority.wire` type; the reply's document."""
        return self.submit(service, method, request).result()

    def submit(self, service: str, method: str, request: Any) -> "Pending":
        """Start a call and return at once; :meth:`Pending.result` waits for its document.

        Several calls may be in flight on the one connection (each is a stream of its own):
        reconcile signs the next batch while the authority verifies the last."""
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(
            self._conn.call(service, method, as_object(request), timeout=self.timeout,
                            metadata=self.signer.header if self.signer is not None else None), self._loop)
        return Pending(self, f"{service}.{method}", future)

    def pages(self, service: str, method: str, request: Any, *, limit: int = DEFAULT_LIMIT,
              all_pages: bool = False) -> dict[str, Any]:
        """One page (``limit`` rows), or every page when ``all_pages`` (following ``next_offset``):
        ``request`` is a :class:`~aster_authority.wire.Page` or :class:`~aster_authority.wire.DevicePage`."""
        if not 1 <= limit <= MAX_LIMIT:
            raise UsageError(f"--limit {limit} is not between 1 and {MAX_LIMIT}",
                             f"the authority pages at most {MAX_LIMIT} rows; use --all to read every page")
        request = as_object(request)
        items: list[Any] = []
        offset: int | None = int(request.get("offset", 0))
        page: dict[str, Any] = {}
        while offset is not None:
            page = self.call(service, method, {**request, "offset": offset, "limit": limit})
            items += page["items"]
            offset = page.get("next_offset") if all_pages else None
        return {**page, "items": items, "next_offset": None if all_pages else page.get("next_offset")}

    def end_with_process(self) -> None:
        """Say that this process ends once this connection is closed (the `aster` command that
        opened it): :meth:`close` then closes the peer connection at once and leaves the
        runtime's node to the process's exit, instead of waiting for its graceful close (80-90 ms
        measured on loopback, up to ``aster_connect.lifecycle.CLOSE_TIMEOUT``). Never for a
        process that goes on (tests, library users open many connections in one process): there
        each close must free its node."""
        self._ends_process = True

    def close(self) -> None:
        if self._loop is None:
            return
        if self._conn is not None:
            with contextlib.suppress(Exception):
                closing = self._conn.close_before_exit() if self._ends_process else self._conn.close()
                asyncio.run_coroutine_threadsafe(closing, self._loop).result(2)
            if self._ends_process:
                from aster_connect.lifecycle import quiet_at_exit

                quiet_at_exit()
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(2)
        self._loop = None

    def __enter__(self) -> "Authority":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Pending:
    """A call in flight (:meth:`Authority.submit`)."""

    def __init__(self, auth: Authority, what: str, future: Any):
        self._auth, self._what, self._future = auth, what, future

    def result(self) -> Any:
        """The reply's JSON document; the call's error as an :class:`AsterError`."""
        reply = self._auth._result(self._future)
        text = reply.get("json") if isinstance(reply, dict) else None
        if not isinstance(text, str):
            raise AsterError(f"the authority answered {self._what} with no document",
                             "check that the address is an aster authority")
        # the answer is a stranger's too: within the shared JSON limits (a deep one is exit 2, not a traceback)
        return loads_limited(text, field=f"the authority's answer to {self._what}", max_bytes=MAX_REPLY)


@contextlib.contextmanager
def _node_only_identity(identity: Path) -> Iterator[Path]:
    """A temporary identity file holding only the ``[node]`` key of ``identity``: the node
    connects with its own key and presents no credential (an expired one would be refused)."""
    from aster_core.files import atomic_write, load_toml

    from aster_enroll.identity import validate

    if not identity.exists():
        raise NotFoundError(f"no identity file {identity}", "give the node's .aster-identity with --identity FILE")
    doc = load_toml(identity)
    if not doc:
        raise UsageError(f"{identity} is empty", "give the node's .aster-identity with --identity FILE")
    key = validate(doc, identity)
    if key is None:
        raise UsageError(f"{identity} has no [node] secret_key", "provision the node with `aster svc ID provision`")
    with tempfile.TemporaryDirectory(prefix="aster-node-") as tmp:
        path = Path(tmp) / ".aster-identity"
        atomic_write(path, f'[node]\nsecret_key = "{key.table()["secret_key"]}"\n', mode=0o600)
        yield path
