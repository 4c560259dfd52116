"""The registry's storage: every operation of the three services, one transaction each.

:class:`Store` is the :class:`.database.Database` (engine, clock, rate limits, the signed
path, upkeep) with one part per thing it holds:

- ``profiles`` (:mod:`.profiles`): handles, verification codes, recovery;
- ``publications`` (:mod:`.publications`): publishing, service settings, endpoints, tokens;
- ``directory`` (:mod:`.directory`): discover and the other reads;
- ``access`` (:mod:`.access`): grants and delegation.

The tables are in :mod:`.tables`, the rate limits in :mod:`.limits`, codes and tokens in
:mod:`.codes`. Handlers in :mod:`.service` open the envelope (:mod:`.protect`) and call one
operation here.
"""

from __future__ import annotations

import time
from typing import Callable

from sqlalchemy.engine import Engine

from .access import Access
from .codes import Tokens
from .database import Database
from .directory import Directory
from .profiles import RESEND_COOLDOWN_S, Profiles
from .publications import Publications


class Store(Database):
    """The registry database and its operations. ``resend_cooldown``: seconds between two
    verification mails for one handle."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time,
                 limits: dict[str, tuple[int, int]] | None = None, *,
                 resend_cooldown: int = RESEND_COOLDOWN_S) -> None:
        super().__init__(engine, clock, limits)
        self.profiles = Profiles(self, resend_cooldown=resend_cooldown)
        self.publications = Publications(self, Tokens(engine))
        self.directory = Directory(self)
        self.access = Access(self)
