"""What the authority's handlers add to :mod:`aster_server.request` (the caller, offloading, one
error mapping for every status): the caller as the domain's :class:`Actor`, request fields that
hold JSON documents, and the :class:`~aster_authority.wire.Reply` every method answers with.

A refusal of the rules or the store (:class:`~aster_authority.domain.errors.Refusal`) reaches the
client through ``aster_server.request.rpc_error`` like any ``AsterError``: its exit code picks
the status, its text is ``<what>\\nHint: <what to do>``.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Optional

from aster_server.jsonmemo import KeptJson
from aster_server.request import Refused, caller, json_field, offload, rpc_error

from ..domain.plans import Actor
from ..wire import CREDENTIAL_HEADER, Reply


def actor() -> Actor:
    """Who is calling, as the rules record it (endpoint id and ``aster.name``)."""
    who = caller()
    return Actor(who.endpoint_id, who.name)


def roles() -> list[str]:
    """The ``aster.role`` values of the caller's credential (none without one)."""
    return [r for r in caller().attributes.get("aster.role", "").split(",") if r]


#: the largest JSON document one request field may hold (a deployment's manifests, one credential)
MAX_DOCUMENT = 4 * 1024 * 1024


def json_arg(text: str, field_name: str) -> Any:
    """A request field holding a JSON document, parsed within the shared JSON limits
    (:data:`MAX_DOCUMENT` bytes, ``aster_core.jsonlimits.MAX_DEPTH`` levels: 100,000 levels
    would end in a RecursionError inside the parser); anything else is INVALID_ARGUMENT naming
    the field."""
    try:
        return json_field(text, field_name, max_bytes=MAX_DOCUMENT)
    except Refused as exc:
        raise rpc_error(exc) from None


def json_args(texts: list[str], field_name: str) -> list[Any]:
    return [json_arg(text, f"{field_name}[{i}]") for i, text in enumerate(texts)]


def record_arg(text: str) -> Any:
    """A request's signed decision record (``record_json``); None when not sent (the store refuses)."""
    return json_arg(text, "record_json") if text else None


#: credentials shown lately, as read from their header text (an admin shows the same one on every
#: call); read-only, like the frozen ``Credential`` they hold
_SHOWN: dict[str, Any] = {}
_SHOWN_KEPT = 256


def shown_credential() -> Any:
    """The admin or reviewer credential the client showed in the call's metadata
    (:data:`~aster_authority.wire.CREDENTIAL_HEADER`), read but not yet checked; None when none
    was shown or it cannot be read (the store refuses the call either way)."""
    from aster_server.requestlog import current_call

    ctx = current_call.get()
    text = (getattr(ctx, "metadata", None) or {}).get(CREDENTIAL_HEADER) if ctx is not None else None
    if not text:
        return None
    credential = _SHOWN.get(text)
    if credential is None:
        credential = _read_credential(text)
        if credential is not None:
            if len(_SHOWN) >= _SHOWN_KEPT:
                _SHOWN.clear()
            _SHOWN[text] = credential
    return credential


def _read_credential(text: str) -> Any:
    from aster_core.errors import AsterError

    from aster_trust.credentials import credential_from_dict

    try:
        return credential_from_dict(json_field(text, CREDENTIAL_HEADER, max_bytes=64 * 1024), CREDENTIAL_HEADER)
    except (Refused, AsterError):
        return None


def opt(value: str) -> Optional[str]:
    """An optional string field: the wire's empty string is "not given"."""
    return value or None


async def run(fn: Callable[..., Any], *args: Any, **kw: Any) -> Reply:
    """``fn(*args, **kw)`` off the event loop (:func:`aster_server.request.offload`); its
    document as the :class:`Reply`."""
    result = await offload(fn, *args, **kw)
    if isinstance(result, KeptJson):  # a kept answer (plan list): its text made once
        return Reply(json=result.text)
    return Reply(json=json.dumps(result, ensure_ascii=False))


def admitted(store: Any) -> Callable[..., Any]:
    """``run`` for the admin and review methods: first :meth:`ChainStore.admit` (a revoked signer,
    or a caller not showing the bound credential it was admitted with, is refused before anything
    else; the signer is recorded), then the work, both in one trip to a worker thread."""
    async def run_admitted(fn: Callable[..., Any], *args: Any, **kw: Any) -> Reply:
        who, held, shown = actor(), roles(), shown_credential()

        def admit_then_work() -> Any:
            store.admit(who, held, shown)
            return fn(*args, **kw)

        return await run(admit_then_work)

    return run_admitted
