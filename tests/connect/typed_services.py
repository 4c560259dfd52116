"""A service with typed containers that counts the requests that reach it.

Served by tests/support as ``tests.connect.typed_services:Ledger``. ``Scores`` has an
integer-keyed map, a list of optionals and a map with optional values; ``Batch`` nests
``Scores`` (a type the manifest describes, as ``put``'s request) in a list and a map,
and ``Note`` (a type no method takes or returns, so the manifest does not describe it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from aster import rpc, service, wire_type

LEDGER = "tests.connect.typed_services:Ledger"


@wire_type("asterconnect/Scores")
@dataclass
class Scores:
    by_id: dict[int, float] = field(default_factory=dict)
    notes: list[Optional[str]] = field(default_factory=list)
    ranks: dict[str, Optional[int]] = field(default_factory=dict)


@wire_type("asterconnect/Note")
@dataclass
class Note:
    text: str = ""


@wire_type("asterconnect/Batch")
@dataclass
class Batch:
    items: list[Scores] = field(default_factory=list)
    by_name: dict[str, Scores] = field(default_factory=dict)
    note: Optional[Note] = None


@wire_type("asterconnect/Tally")
@dataclass
class Tally:
    calls: int = 0
    items: int = 0


@wire_type("asterconnect/TallyRequest")
@dataclass
class TallyRequest:
    label: str = ""


@service(name="Ledger", version=1)
class Ledger:
    """Echoes scores and counts every request it is sent."""

    def __init__(self) -> None:
        self.calls = 0

    @rpc
    async def put(self, req: Scores) -> Scores:
        self.calls += 1
        return req

    @rpc
    async def put_many(self, req: Batch) -> Tally:
        self.calls += 1
        return Tally(calls=self.calls, items=len(req.items) + len(req.by_name))

    @rpc
    async def tally(self, req: TallyRequest) -> Tally:
        return Tally(calls=self.calls)
