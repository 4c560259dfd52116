"""Dial a peer and pass its consumer admission: :func:`connect` (see :mod:`aster_connect.client`).

The address is resolved first (a family's form, such as ``@handle/Service``, by its
family: :func:`aster_connect.addresses.dialable`), the credential files are checked,
then the runtime's client dials and is admitted, with a bounded retry when a loaded
producer drops the admission connection before its answer is read.
"""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path
from typing import Any, Iterable

from aster_core.errors import UsageError

from .addresses import Address, dialable, node_addr, resolve_address
from .connection import Connection
from .credentials import check_files, credential_kind
from .errors import CallDenied, CallError, CallUnavailable
from .lifecycle import quiet_close
from .registry import SCHEMA_TIMEOUT
from .schema import ServiceInfo

__all__ = ["DEFAULT_TIMEOUT", "ADMISSION_RETRIES", "connect", "lost_connection", "retry_pause"]

DEFAULT_TIMEOUT = 10.0
#: more admission attempts after a connection lost mid-admission, and the pause before the
#: first (the n-th waits n times as long, at most ADMISSION_RETRY_PAUSE_MAX, each jittered so a
#: burst does not come back as one; with 2 retries a burst of 50 connects to a bare runtime server
#: lost 10-35, docs/runtime-notes.md): see :func:`_admitted_client`
ADMISSION_RETRIES = 8
ADMISSION_RETRY_PAUSE = 0.2
ADMISSION_RETRY_PAUSE_MAX = 0.8


async def connect(address: str | Address, *, rcan: str | os.PathLike | None = None,
                  timeout: float | None = DEFAULT_TIMEOUT, schemas: bool | Iterable[str] = True) -> Connection:
    """Connect and run consumer admission; read method schemas unless ``schemas=False``.

    ``schemas`` may also name the services whose manifests to read (``aster
    call`` reads only the one it calls). ``timeout`` bounds the whole of it:
    dialling, admission and reading schemas (and closing a failed client takes
    at most :data:`aster_connect.lifecycle.CLOSE_TIMEOUT` more).
    """
    loop = asyncio.get_running_loop()
    deadline = None if not timeout else loop.time() + timeout
    addr = address if isinstance(address, Address) else resolve_address(address)
    if addr.resolver is not None:  # a family's form (@handle/Service): its family names the endpoint
        addr = await dialable(addr, timeout=None if deadline is None else max(deadline - loop.time(), 0.001))
    target = node_addr(addr)
    kwargs: dict[str, Any] = {"address": target}
    credential: str | None = None
    if rcan is not None:
        path = Path(rcan).expanduser()
        kind = credential_kind(path)
        if kind == "identity":
            kwargs["identity"] = str(path)
        else:
            kwargs["enrollment_credential_file"] = str(path)
        credential = str(path)
    if addr.peer is not None:
        kwargs["peer"] = addr.peer
        kwargs.setdefault("identity", addr.identity_file)
        credential = credential or f"peer {addr.peer!r} of {addr.identity_file}"
    check_files(identity=kwargs.get("identity"), peer=kwargs.get("peer"),
                credential_file=kwargs.get("enrollment_credential_file"))
    client = await _admitted_client(kwargs, addr, credential, timeout, deadline)
    services = [ServiceInfo(name=s.name, version=int(s.version), scoped=getattr(s, "pattern", "shared") or "shared",
                            contract_id=s.contract_id,
                            serialization_modes=tuple(getattr(s, "serialization_modes", ()) or ()), summary=s)
                for s in client.services]
    highest: dict[str, int] = {}
    for svc in services:
        highest[svc.name] = max(highest.get(svc.name, 0), svc.version)
    for svc in services:
        svc.ref = svc.name if svc.version == highest[svc.name] else f"{svc.name}@{svc.version}"
    conn = Connection(addr, client, services, credential)
    if schemas:
        left = SCHEMA_TIMEOUT if deadline is None else min(SCHEMA_TIMEOUT, max(deadline - loop.time(), 0.001))
        await conn.load_schemas(None if schemas is True else list(schemas), timeout=left)  # type: ignore[arg-type]
    return conn


async def _admitted_client(kwargs: dict[str, Any], addr: Address, credential: str | None,
                           timeout: float | None, deadline: float | None) -> Any:
    """A runtime client that passed consumer admission, or the error that says why not.

    The producer drops its admission connection as soon as it has written the
    answer; on a loaded machine that can arrive as ``connection lost`` before
    the answer was read (seen in CI: one of ten concurrent `aster svc` commands).
    Such a loss is retried :data:`ADMISSION_RETRIES` more times within the
    deadline with the same credential (a one-time credential the first try spent is
    then refused, and said so as a denial).
    """
    from aster import AsterClient
    from aster.runtime import AdmissionDeniedError

    loop = asyncio.get_running_loop()
    attempt = 0
    while True:
        try:
            client = AsterClient(**kwargs)
        except (ValueError, KeyError, OSError) as exc:
            raise UsageError(f"cannot use the credential: {exc}",
                             "Check the file given with --rcan (or ASTER_ENROLLMENT_CREDENTIAL).") from exc
        if credential is None and getattr(client, "_inline_credential", None):
            credential = "the consumer peer of ./.aster-identity"
        elif credential is None and getattr(client, "_enrollment_credential_file", None):
            credential = str(client._enrollment_credential_file)
        left = None if deadline is None else max(deadline - loop.time(), 0.001)
        try:
            await asyncio.wait_for(client.connect(), left)
            return client
        except AdmissionDeniedError as exc:
            await quiet_close(client)
            raise CallDenied("PERMISSION_DENIED", f"admission refused by {addr.text[:24]}...",
                             f"Credential presented: {credential or 'none'} (our endpoint id "
                             f"{exc.our_endpoint_id or '?'}). It may be expired, bound to another endpoint, or "
                             "signed by a root key this server does not trust.") from None
        except asyncio.TimeoutError:
            await quiet_close(client)
            raise CallUnavailable("UNAVAILABLE", f"no answer from {addr.text[:24]}... within {timeout:g}s",
                                  "Check that the server is running and the address is current "
                                  "(a restarted server prints a new ticket).") from None
        except (UsageError, CallError):
            await quiet_close(client)
            raise
        except Exception as exc:
            await quiet_close(client)
            pause = retry_pause(attempt)
            if (attempt < ADMISSION_RETRIES and lost_connection(exc)
                    and (deadline is None or deadline - loop.time() > pause)):
                await asyncio.sleep(pause)
                attempt += 1
                continue
            raise CallUnavailable("UNAVAILABLE", f"cannot reach {addr.text[:24]}...: {exc}",
                                  "Check the address and that the server is running.") from None


def retry_pause(attempt: int) -> float:
    """Seconds to wait before admission attempt ``attempt + 2`` (see :data:`ADMISSION_RETRIES`)."""
    return min(ADMISSION_RETRY_PAUSE * (attempt + 1), ADMISSION_RETRY_PAUSE_MAX) * random.uniform(0.5, 1.5)


def lost_connection(exc: BaseException) -> bool:
    """The runtime's ``IrohError("... connection lost")``: the peer closed the QUIC connection."""
    return type(exc).__name__ == "IrohError" and "connection lost" in str(exc)
