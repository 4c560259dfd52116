"""Example services served by the test harness, written with the runtime's own decorators.

Every message type (and the enum) carries an explicit ``@wire_type`` tag under the
``asterharness/`` namespace, so contract ids do not depend on the module name these
classes are imported under. Keep these definitions stable: tests compare contract ids
and manifests produced from them.

Service keys (used by ``serve.py --services`` and ``start_server``):

- ``echo``    EchoService v1: unary ``echo``/``roundtrip``/``inspect``/``blob``/``fail``/``slow``,
              server_stream ``count``, client_stream ``sum``, bidi_stream ``chat``.
- ``echo2``   EchoService v2 (same name, second version, different contract).
- ``session`` CounterSession v1, ``scoped="session"``: ``add``, ``total``, ``reset``.
- ``v2``      Greeter v2 only (no v1 exists): ``greet``.
- ``vault``   Vault v1 with method-level role requirements (trusted-mode tests).
- ``typed``   Ledger v1, typed containers (``dict[int, float]``, ``list[Optional[str]]``,
              ``dict[str, Optional[int]]``, nested ``list[Scores]``/``dict[str, Scores]``, an
              undescribed ``Note``): idempotent ``put``, ``put_many``, and ``tally``, the
              count of ``put``/``put_many`` requests that reached it.
- ``metadata`` MetadataEcho v1: the call metadata a handler sees (``show``, server_stream
              ``repeat``); ``metadata_session`` MetadataSession v1, the same in a session (``show``).
- ``gauge``   Gauge v1: ``hold`` sleeps ``ms`` while counting the calls in flight; ``reading``
              gives the most that ever were at once (``peak``) and how many calls came.

Anything of the form ``MODULE:CLASS`` (e.g. ``tests.contract.services.shop:Inventory``)
is imported instead of looked up.
"""

from __future__ import annotations

import asyncio
import contextvars
from dataclasses import dataclass, field
from enum import IntEnum
from typing import AsyncIterator, Optional

from aster import Interceptor, RpcError, StatusCode, all_of, any_of, bidi_stream, client_stream, rpc
from aster import server_stream, service, wire_type

NS = "asterharness"


@wire_type(f"{NS}/Mood")
class Mood(IntEnum):
    """An enum field type (JSON mode carries it as its integer value)."""

    CALM = 0
    HAPPY = 1
    GRUMPY = 2


@wire_type(f"{NS}/Inner")
@dataclass
class Inner:
    label: str = ""
    weight: float = 0.0


@wire_type(f"{NS}/EchoRequest")
@dataclass
class EchoRequest:
    text: str = ""
    times: int = 1
    inner: Inner = field(default_factory=Inner)
    tags: list[str] = field(default_factory=list)


@wire_type(f"{NS}/EchoResponse")
@dataclass
class EchoResponse:
    text: str = ""
    times: int = 0
    inner: Inner = field(default_factory=Inner)
    tags: list[str] = field(default_factory=list)
    joined: str = ""
    version: int = 1


@wire_type(f"{NS}/AllTypes")
@dataclass
class AllTypes:
    """One field of every kind the runtime supports except bytes (see BlobRequest):
    a response holding bytes cannot be encoded in the runtime's JSON mode."""

    i: int = 0
    f: float = 0.0
    b: bool = False
    s: str = ""
    items: list[int] = field(default_factory=list)
    attrs: dict[str, str] = field(default_factory=dict)
    maybe: Optional[str] = None
    inner: Inner = field(default_factory=Inner)
    children: list[Inner] = field(default_factory=list)
    mood: Mood = Mood.CALM


@wire_type(f"{NS}/TypeReport")
@dataclass
class TypeReport:
    """Python type name of each field as the server received it (e.g. ``{"i": "int"}``)."""

    types: dict[str, str] = field(default_factory=dict)


@wire_type(f"{NS}/BlobRequest")
@dataclass
class BlobRequest:
    name: str = ""
    data: bytes = b""


@wire_type(f"{NS}/BlobInfo")
@dataclass
class BlobInfo:
    name: str = ""
    size: int = 0
    kind: str = ""


@wire_type(f"{NS}/FailRequest")
@dataclass
class FailRequest:
    code: int = int(StatusCode.INTERNAL)
    message: str = "requested failure"


@wire_type(f"{NS}/SlowRequest")
@dataclass
class SlowRequest:
    ms: int = 0
    text: str = ""


@wire_type(f"{NS}/CountRequest")
@dataclass
class CountRequest:
    n: int = 0
    prefix: str = "item"


@wire_type(f"{NS}/CountItem")
@dataclass
class CountItem:
    index: int = 0
    text: str = ""


@wire_type(f"{NS}/Number")
@dataclass
class Number:
    value: int = 0


@wire_type(f"{NS}/SumResult")
@dataclass
class SumResult:
    total: int = 0
    count: int = 0


@wire_type(f"{NS}/ChatMessage")
@dataclass
class ChatMessage:
    text: str = ""
    seq: int = 0


def _field_type_names(obj: object) -> dict[str, str]:
    return {name: type(value).__name__ for name, value in vars(obj).items()}


@service(name="EchoService", version=1)
class EchoService:
    """Echoes what it is sent, in every RPC pattern."""

    @rpc
    async def echo(self, req: EchoRequest) -> EchoResponse:
        """Return the request, with ``joined`` = text repeated ``times`` times."""
        return EchoResponse(text=req.text, times=req.times, inner=req.inner,
                            tags=list(req.tags), joined=" ".join([req.text] * max(req.times, 0)))

    @rpc
    async def roundtrip(self, req: AllTypes) -> AllTypes:
        """Return the request unchanged."""
        return req

    @rpc
    async def inspect(self, req: AllTypes) -> TypeReport:
        """Report the Python type of each field as received."""
        return TypeReport(types=_field_type_names(req))

    @rpc
    async def blob(self, req: BlobRequest) -> BlobInfo:
        """Size and received Python type of ``data`` (a JSON client's bytes arrive as str)."""
        return BlobInfo(name=req.name, size=len(req.data), kind=type(req.data).__name__)

    @rpc
    async def fail(self, req: FailRequest) -> EchoResponse:
        """Fail with the requested status code and message."""
        raise RpcError(StatusCode(req.code), req.message)

    @rpc(timeout=30.0)
    async def slow(self, req: SlowRequest) -> EchoResponse:
        """Sleep ``ms`` milliseconds, then echo ``text``."""
        await asyncio.sleep(req.ms / 1000)
        return EchoResponse(text=req.text, times=1, joined=req.text)

    @server_stream
    async def count(self, req: CountRequest) -> AsyncIterator[CountItem]:
        """Yield ``n`` items numbered from 0."""
        for index in range(req.n):
            yield CountItem(index=index, text=f"{req.prefix}-{index}")

    @client_stream
    async def sum(self, reqs: AsyncIterator[Number]) -> SumResult:
        """Add up every number sent."""
        total = count = 0
        async for number in reqs:
            total += number.value
            count += 1
        return SumResult(total=total, count=count)

    @bidi_stream
    async def chat(self, reqs: AsyncIterator[ChatMessage]) -> AsyncIterator[ChatMessage]:
        """Answer each message with ``echo: <text>``."""
        seq = 0
        async for msg in reqs:
            seq += 1
            yield ChatMessage(text=f"echo: {msg.text}", seq=seq)


@service(name="EchoService", version=2)
class EchoServiceV2:
    """Second version of EchoService: upper-cases and says it is v2."""

    @rpc
    async def echo(self, req: EchoRequest) -> EchoResponse:
        """Return the request upper-cased, tagged version 2."""
        return EchoResponse(text=req.text.upper(), times=req.times, inner=req.inner,
                            tags=list(req.tags), joined=req.text.upper(), version=2)


@wire_type(f"{NS}/AddRequest")
@dataclass
class AddRequest:
    amount: int = 0


@wire_type(f"{NS}/TotalRequest")
@dataclass
class TotalRequest:
    note: str = ""


@wire_type(f"{NS}/CounterState")
@dataclass
class CounterState:
    total: int = 0
    calls: int = 0


@service(name="CounterSession", version=1, scoped="session")
class CounterSession:
    """Per-connection counter: state lives as long as the session."""

    def __init__(self, peer: object = None) -> None:
        self._peer = peer
        self._total = 0
        self._calls = 0

    @rpc
    async def add(self, req: AddRequest) -> CounterState:
        """Add ``amount`` to this session's total."""
        self._total += req.amount
        self._calls += 1
        return CounterState(total=self._total, calls=self._calls)

    @rpc
    async def total(self, req: TotalRequest) -> CounterState:
        """Current total of this session."""
        self._calls += 1
        return CounterState(total=self._total, calls=self._calls)

    @rpc
    async def reset(self, req: TotalRequest) -> CounterState:
        """Set the total back to zero."""
        self._total = 0
        self._calls += 1
        return CounterState(total=0, calls=self._calls)


@wire_type(f"{NS}/GreetRequest")
@dataclass
class GreetRequest:
    name: str = ""


@wire_type(f"{NS}/GreetReply")
@dataclass
class GreetReply:
    message: str = ""
    version: int = 2


@service(name="Greeter", version=2)
class Greeter:
    """Exists only as version 2: the released runtime's clients cannot reach it."""

    @rpc
    async def greet(self, req: GreetRequest) -> GreetReply:
        """Say hello."""
        return GreetReply(message=f"Hello, {req.name}! (v2)", version=2)


@wire_type(f"{NS}/VaultRequest")
@dataclass
class VaultRequest:
    key: str = ""
    value: str = ""


@wire_type(f"{NS}/VaultReply")
@dataclass
class VaultReply:
    key: str = ""
    value: str = ""
    ok: bool = True


@service(name="Vault", version=1)
class Vault:
    """Role-checked key/value store. Roles come from the credential's ``aster.role``
    (comma-separated): ``read`` needs ``reader``; ``write`` needs ``writer`` or
    ``admin``; ``admin`` needs ``admin``; ``ping`` needs nothing."""

    def __init__(self) -> None:
        self._data: dict[str, str] = {"greeting": "hello"}

    @rpc(requires="reader")
    async def read(self, req: VaultRequest) -> VaultReply:
        """Read a key (role ``reader``)."""
        return VaultReply(key=req.key, value=self._data.get(req.key, ""), ok=req.key in self._data)

    @rpc(requires=any_of("writer", "admin"))
    async def write(self, req: VaultRequest) -> VaultReply:
        """Write a key (role ``writer`` or ``admin``)."""
        self._data[req.key] = req.value
        return VaultReply(key=req.key, value=req.value)

    @rpc(requires=all_of("admin"))
    async def admin(self, req: VaultRequest) -> VaultReply:
        """Clear the store (role ``admin``)."""
        self._data.clear()
        return VaultReply(key=req.key, value="cleared")

    @rpc
    async def ping(self, req: VaultRequest) -> VaultReply:
        """No role needed: any admitted consumer may call it."""
        return VaultReply(key=req.key, value="pong")


@wire_type(f"{NS}/Scores")
@dataclass
class Scores:
    """An integer-keyed map, a list of optionals and a map with optional values."""

    by_id: dict[int, float] = field(default_factory=dict)
    notes: list[Optional[str]] = field(default_factory=list)
    ranks: dict[str, Optional[int]] = field(default_factory=dict)


@wire_type(f"{NS}/Note")
@dataclass
class Note:
    """No method takes or returns it, so the manifest does not describe it."""

    text: str = ""


@wire_type(f"{NS}/Batch")
@dataclass
class Batch:
    """``Scores`` (described, as ``put``'s request) nested in a list and a map, and a ``Note``."""

    items: list[Scores] = field(default_factory=list)
    by_name: dict[str, Scores] = field(default_factory=dict)
    note: Optional[Note] = None


@wire_type(f"{NS}/Tally")
@dataclass
class Tally:
    calls: int = 0
    items: int = 0


@wire_type(f"{NS}/TallyRequest")
@dataclass
class TallyRequest:
    label: str = ""


@service(name="Ledger", version=1)
class Ledger:
    """Echoes scores and counts the requests that reach it (``tally`` shows the count), so
    a test can see that a request refused by the client was never sent."""

    def __init__(self) -> None:
        self.calls = 0

    @rpc(idempotent=True)
    async def put(self, req: Scores) -> Scores:
        """Return the request unchanged."""
        self.calls += 1
        return req

    @rpc
    async def put_many(self, req: Batch) -> Tally:
        """Count the scores sent (``items`` plus ``by_name``)."""
        self.calls += 1
        return Tally(calls=self.calls, items=len(req.items) + len(req.by_name))

    @rpc
    async def tally(self, req: TallyRequest) -> Tally:
        """How many ``put``/``put_many`` requests arrived (this one is not counted)."""
        return Tally(calls=self.calls)


#: The metadata of the call being handled: the runtime hands it to interceptors only
#: (``ctx.metadata``), so one copies it here, where the handler's task reads it.
CALL_METADATA: contextvars.ContextVar[dict] = contextvars.ContextVar("asterharness_call_metadata", default={})


class CallMetadata(Interceptor):
    async def on_request(self, ctx, request):
        CALL_METADATA.set(dict(ctx.metadata))
        return request


@wire_type(f"{NS}/MetadataRequest")
@dataclass
class MetadataRequest:
    note: str = ""
    n: int = 1


@wire_type(f"{NS}/MetadataReply")
@dataclass
class MetadataReply:
    metadata: dict[str, str] = field(default_factory=dict)
    note: str = ""
    index: int = 0


@service(name="MetadataEcho", version=1, interceptors=[CallMetadata])
class MetadataEcho:
    """Answers with the call metadata its handler sees."""

    @rpc
    async def show(self, req: MetadataRequest) -> MetadataReply:
        """The call's metadata."""
        return MetadataReply(metadata=CALL_METADATA.get(), note=req.note)

    @server_stream
    async def repeat(self, req: MetadataRequest) -> AsyncIterator[MetadataReply]:
        """``n`` items, each with the call's metadata."""
        for index in range(req.n):
            yield MetadataReply(metadata=CALL_METADATA.get(), note=req.note, index=index)


@service(name="MetadataSession", version=1, scoped="session", interceptors=[CallMetadata])
class MetadataSession:
    """MetadataEcho's ``show`` in a session: each call's own metadata."""

    def __init__(self, peer: object = None) -> None:
        self._peer = peer

    @rpc
    async def show(self, req: MetadataRequest) -> MetadataReply:
        """The call's metadata."""
        return MetadataReply(metadata=CALL_METADATA.get(), note=req.note)


@wire_type(f"{NS}/HoldRequest")
@dataclass
class HoldRequest:
    ms: int = 0
    label: str = ""


@wire_type(f"{NS}/GaugeReading")
@dataclass
class GaugeReading:
    peak: int = 0
    calls: int = 0
    label: str = ""


@service(name="Gauge", version=1)
class Gauge:
    """Counts the ``hold`` calls in flight at once, so a test can bound a client's concurrency."""

    def __init__(self) -> None:
        self.current = self.peak = self.calls = 0

    @rpc
    async def hold(self, req: HoldRequest) -> GaugeReading:
        """Wait ``ms`` milliseconds while counted as in flight."""
        self.calls += 1
        self.current += 1
        self.peak = max(self.peak, self.current)
        try:
            await asyncio.sleep(req.ms / 1000)
        finally:
            self.current -= 1
        return GaugeReading(peak=self.peak, calls=self.calls, label=req.label)

    @rpc
    async def reading(self, req: HoldRequest) -> GaugeReading:
        """The most ``hold`` calls ever in flight at once, and how many came."""
        return GaugeReading(peak=self.peak, calls=self.calls, label=req.label)


#: Service key -> service object as passed to AsterServer (session services as the class).
SERVICE_FACTORIES = {
    "echo": EchoService,
    "echo2": EchoServiceV2,
    "session": CounterSession,
    "v2": Greeter,
    "vault": Vault,
    "typed": Ledger,
    "metadata": MetadataEcho,
    "metadata_session": MetadataSession,
    "gauge": Gauge,
}


def _service_class(key: str) -> type:
    """A harness key (``echo``) or an importable ``MODULE:CLASS`` spec."""
    if ":" not in key:
        return SERVICE_FACTORIES[key]
    import importlib

    module_name, _, class_name = key.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if not hasattr(cls, "__aster_service_info__"):
        raise ValueError(f"{key} is not an @service class")
    return cls


def build_services(keys: list[str]) -> list[object]:
    """Instances (or, for session-scoped services, classes) for the given keys or specs.

    A key containing ``:`` is a ``MODULE:CLASS`` spec, imported from ``sys.path``.
    """
    unknown = [k for k in keys if ":" not in k and k not in SERVICE_FACTORIES]
    if unknown:
        raise ValueError(f"unknown service key(s) {unknown}; known: {sorted(SERVICE_FACTORIES)} "
                         "or MODULE:CLASS")
    out: list[object] = []
    for key in keys:
        cls = _service_class(key)
        info = cls.__aster_service_info__
        out.append(cls if info.scoped == "session" else cls())
    return out
