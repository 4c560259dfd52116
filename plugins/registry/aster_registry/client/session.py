"""One connection to a registry and typed unary calls on it.

The connection presents no credential and reads no ``.aster-identity`` (a registry runs
open-gate, and an enrollment credential meant for another mesh would be refused), keeps
nothing on disk, and every step is bounded by the command's ``--timeout`` (the runtime
itself sets no deadline). Calls use the types of :mod:`aster_registry.wire` with the
runtime's Fory XLANG codec, the encoding the released client and our server share.

Every failure is an :class:`aster_connect.errors.CallError` (the status mapped onto the
host's exit codes), so the command prints one ``Error: [STATUS] message`` line.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aster_connect.errors import CallError, call_error

from .address import RegistryAddress

DEFAULT_TIMEOUT = 15.0
#: where a server's error text puts its hint (the format of aster_server.request.error_text)
HINT_SEP = "\nHint: "

#: hints for the statuses a registry answers with (the server's message says what was wrong)
_HINTS = {
    "INVALID_ARGUMENT": "correct the value the message names and run the command again",
    "PERMISSION_DENIED": "sign with the root key that owns the handle (see `aster whoami`)",
    "UNAUTHENTICATED": "sign with the root key that owns the handle (see `aster whoami`)",
    "NOT_FOUND": "check the handle and service name (`aster discover @HANDLE` lists a handle's services)",
    "ALREADY_EXISTS": "choose another name",
    "RESOURCE_EXHAUSTED": "the registry limits how often this may be done; wait and try again later",
    "FAILED_PRECONDITION": "the message says what must happen first",
    "UNAVAILABLE": "check that the registry is running and the address is current (`aster doctor`)",
    "DEADLINE_EXCEEDED": "the registry did not answer in time; try again, or raise --timeout",
}


def registry_error(status: str, message: str, hint: str | None = None) -> CallError:
    return call_error(status, message, hint or _HINTS.get(status))


class RegistrySession:
    """``async with RegistrySession(address, timeout) as reg: await reg.call(service, method, req)``.

    ``ends_process``: the command ends the process right after (with
    ``aster_connect.client.exit_now``), so a session that ends without an
    error closes at once instead of waiting for the graceful close.
    """

    def __init__(self, address: RegistryAddress, timeout: float = DEFAULT_TIMEOUT, *, ends_process: bool = False):
        self.address = address
        self.timeout = timeout
        self.ends_process = ends_process
        self._client: Any = None
        self._codec: Any = None
        self._deadline = 0.0

    def _left(self) -> float:
        return max(self._deadline - time.monotonic(), 0.001)

    async def __aenter__(self) -> "RegistrySession":
        from aster import AsterClient
        from aster.codec import ForyCodec
        from aster.config import AsterConfig
        from aster_connect.dial import ADMISSION_RETRIES, lost_connection, retry_pause

        from ..wire import all_types

        self._deadline = time.monotonic() + self.timeout
        config = AsterConfig.from_env()
        config.identity_file = "/dev/null/.aster-identity"  # never present a mesh credential
        config.enrollment_credential_file = None
        config.storage_path = None
        where = self.address.value[:24]
        attempt = 0
        while True:
            try:
                self._client = AsterClient(config=config, address=self.address.value)
            except (ValueError, TypeError) as exc:
                raise registry_error("INVALID_ARGUMENT", f"the registry address from {self.address.source} "
                                     f"does not parse: {exc}",
                                     "use the aster1... ticket `aster registry serve` printed") from None
            try:
                await asyncio.wait_for(self._client.connect(), self._left())
                break
            except asyncio.TimeoutError:
                await self._close()
                raise registry_error("UNAVAILABLE", f"no answer from the registry at {where}... within "
                                     f"{self.timeout:g}s") from None
            except CallError:
                await self._close()
                raise
            except Exception as exc:
                await self._close()
                name = type(exc).__name__
                if name == "AdmissionDeniedError":
                    raise registry_error("PERMISSION_DENIED", f"the registry at {where}... refused admission",
                                         "a registry admits every client; check that the address is a registry"
                                         ) from None
                # a registry that dropped the admission answer under a burst of clients: again, as `aster call`
                pause = retry_pause(attempt)
                if attempt < ADMISSION_RETRIES and lost_connection(exc) and self._left() > pause:
                    await asyncio.sleep(pause)
                    attempt += 1
                    continue
                raise registry_error("UNAVAILABLE", f"cannot reach the registry at {where}...: {exc}") from None
        self._codec = ForyCodec(types=all_types())
        return self

    async def __aexit__(self, exc_type: Any, *exc: Any) -> None:
        if self.ends_process and exc_type is None and self._client is not None:
            from aster_connect.client import close_client_before_exit

            client, self._client = self._client, None
            await close_client_before_exit(client)
            return
        await self._close()

    async def _close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        from aster_connect.client import quiet_close  # bounded, and silences the runtime's exit noise

        await quiet_close(client)

    def _channel(self, service: str) -> str:
        names = []
        for summary in self._client.services:
            names.append(summary.name)
            if summary.name == service and int(summary.version) == 1:
                rpc = summary.channels.get("rpc")
                if rpc:
                    return rpc
        raise registry_error("UNIMPLEMENTED", f"the peer at {self.address.value[:24]}... is not a registry "
                             f"(it offers no {service}; it offers {', '.join(sorted(set(names))) or 'nothing'})",
                             f"check the registry address ({self.address.source})")

    async def call(self, service: str, method: str, request: Any, *, reads: type | None = None) -> Any:
        """One unary call; the decoded response, or a CallError. ``reads``: the response type
        when it holds a list of messages, whose serializers are then built once instead of once
        per entry (:func:`aster_server.codecs.warm`)."""
        from aster.status import RpcError
        from aster.transport.iroh import IrohTransport

        if reads is not None:
            from aster_server.codecs import warm

            warm(self._codec, [reads])
        left = self._left()
        try:
            conn = await asyncio.wait_for(self._client._rpc_conn_for(self._channel(service)), left)
            transport = IrohTransport(conn, codec=self._codec)
            deadline_ms = int((time.time() + self._left()) * 1000)
            return await asyncio.wait_for(
                transport.unary(service, method, request, deadline_epoch_ms=deadline_ms), self._left())
        except CallError:
            raise
        except RpcError as exc:
            code = getattr(exc, "code", None)
            status = getattr(code, "name", None) or str(code or "UNKNOWN")
            message, _, hint = str(getattr(exc, "message", "") or exc).partition(HINT_SEP)
            raise registry_error(status, message, hint or None) from None
        except asyncio.TimeoutError:
            raise registry_error("DEADLINE_EXCEEDED", f"{service}.{method} got no answer within "
                                 f"{self.timeout:g}s") from None
        except Exception as exc:
            raise registry_error("UNAVAILABLE", f"{service}.{method} failed: {type(exc).__name__}: {exc}") from None
