"""A service with the field shapes the harness services lack, served by tests/support.

``tests.support.services.build_services`` takes ``MODULE:CLASS`` specs, so tests start it
with ``server_factory(("echo", SCOREBOARD))``. Its request holds an integer-keyed map, a
list of optionals and a map with optional values, and its method is idempotent: details
the parsed ``MethodInfo`` never kept, which the published manifest does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from aster import rpc, service, wire_type

SCOREBOARD = "tests.mcp.fidelity_services:Scoreboard"


@wire_type("asterfidelity/Scores")
@dataclass
class Scores:
    by_id: dict[int, float] = field(default_factory=dict)
    notes: list[Optional[str]] = field(default_factory=list)
    ranks: dict[str, Optional[int]] = field(default_factory=dict)


@service(name="Scoreboard", version=1)
class Scoreboard:
    """Returns the scores it is sent."""

    @rpc(idempotent=True)
    async def put(self, req: Scores) -> Scores:
        """Return the request unchanged."""
        return req
