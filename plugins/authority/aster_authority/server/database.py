"""One authority database: its engine, the mesh root it trusts, its policy and clock, and what
every store operation is built from (a transaction, the deployment's row, history, pages).

Built on :mod:`aster_server.storage` (SQLAlchemy Core; SQLite by default, PostgreSQL for
several replicas). Each state change:

1. reads the deployment row (its ``version`` ULID and integer ``revision``),
2. decides with :mod:`aster_authority.domain` (pure),
3. writes the result and moves the deployment's ``revision`` with
   :func:`aster_server.storage.compare_and_swap`, all in one transaction.

Two writers racing on one deployment (two admins, two replicas on one PostgreSQL): the
second compare-and-swap finds the revision moved and nothing of its transaction is
committed; it runs again on fresh data (an accept whose deployment *version* moved is
refused with "desired version changed" instead).
"""

from __future__ import annotations

import time
from typing import Any, Callable, TypeVar

import sqlalchemy as sa
from aster_core.errors import ExitCode, UsageError

from aster_server import storage

from ..domain.credentials import Policy, canonical_json
from ..domain.errors import Refusal, invalid
from ..domain.ids import PREFIX, SERVICE, check_deployment_id
from ..domain.plans import Actor, Deployment
from ..wire import MAX_LIMIT
from .tables import MIGRATIONS, deployment_of, deployment_values, deployments, history

T = TypeVar("T")


class Retry(Exception):
    """The deployment's revision moved under us: run the transaction again on fresh data."""


class Database:
    """The engine and the building blocks of the store's operations. Thread-safe (one engine)."""

    def __init__(self, engine: sa.Engine, root_pubkey: bytes, policy: Policy | None = None,
                 clock: Callable[[], float] = time.time):
        self.engine = engine
        self.root_pubkey = root_pubkey
        self.policy = policy or Policy()
        self.clock = clock

    @classmethod
    def open(cls, url: str, root_pubkey: bytes, **kw: Any) -> Any:
        """Open (and migrate) the database at ``url``."""
        return cls(storage.open_database(url, MIGRATIONS), root_pubkey, **kw)

    def close(self) -> None:
        self.engine.dispose()

    def now(self) -> int:
        return int(self.clock())

    def health(self) -> dict[str, Any]:
        info = storage.describe(self.engine)
        try:
            info["revision"] = storage.current_revision(self.engine, MIGRATIONS)
        except Exception:  # noqa: BLE001 - health must not fail on what it reports
            pass
        return {"database": info}

    # -- transactions ----------------------------------------------------------------
    def write(self, fn: Callable[[sa.Connection], T], attempts: int = 8) -> T:
        """``fn(conn)`` in one write transaction, run again (on fresh data) when it raised :class:`Retry`."""
        for attempt in range(attempts):
            try:
                return storage.run_transaction(self.engine, fn)
            except Retry:
                if attempt == attempts - 1:
                    raise Refusal("busy", "the deployment kept changing while this change was made",
                                  "retry in a moment") from None
                time.sleep(0.005 * (attempt + 1))
        raise AssertionError("unreachable")

    def read(self, fn: Callable[[sa.Connection], T]) -> T:
        return storage.run_transaction(self.engine, fn, write=False)

    # -- the deployment row ------------------------------------------------------------
    def load(self, conn: sa.Connection, deployment_id: Any, kind: str | None = None, *,
             lock: bool = False) -> tuple[Deployment, int]:
        """The deployment and its revision; ``lock`` holds its row until the transaction ends
        (PostgreSQL ``FOR UPDATE``; SQLite's write transaction already excludes other writers),
        so concurrent writers queue instead of failing their compare-and-swap and retrying."""
        check_deployment_id(deployment_id)
        query = sa.select(deployments).where(deployments.c.deployment_id == deployment_id)
        row = conn.execute(query.with_for_update() if lock else query).first()
        if row is None or (kind is not None and row.kind != kind):
            prefix = PREFIX.get(kind or SERVICE, "svc")
            raise Refusal("not_found", f"no deployment {prefix}/{deployment_id}",
                          f"list them with `aster {prefix} list`, or create it with "
                          f"`aster {prefix} {deployment_id} create`", field="deployment_id",
                          exit_code=ExitCode.NOT_FOUND)
        return deployment_of(row), row.revision

    def bump(self, conn: sa.Connection, dep: Deployment, revision: int, new: Deployment | None = None) -> None:
        """Move the deployment's revision (and write ``new`` when given); :class:`Retry` when it moved."""
        values = deployment_values(new) if new is not None else {}
        if storage.compare_and_swap(conn, deployments, {"deployment_id": dep.deployment_id}, revision, values,
                                    version_column="revision") is None:
            raise Retry()

    def history(self, conn: sa.Connection, deployment_id: str, actor: Actor | None, action: str,
                **detail: Any) -> None:
        conn.execute(sa.insert(history).values(deployment_id=deployment_id, at=self.now(),
                                               actor=canonical_json(actor.as_dict() if actor else {}),
                                               action=action, detail=canonical_json(detail)))


# ── inputs and pages ──────────────────────────────────────────────────────────────


def check_page(offset: Any, limit: Any) -> tuple[int, int]:
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise Refusal("invalid", f"offset: {offset!r} is not a non-negative integer", "start at 0",
                      field="offset", exit_code=ExitCode.USAGE)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise Refusal("invalid", f"limit: {limit!r} is not between 1 and {MAX_LIMIT}",
                      f"ask for at most {MAX_LIMIT} rows a page and follow next_offset (the CLI's --all does)",
                      field="limit", exit_code=ExitCode.USAGE)
    return offset, limit


def page(rows: list[Any], offset: int, limit: int) -> dict[str, Any]:
    """A page of ``rows`` read with ``limit + 1``: the extra row says there is a next one."""
    more = len(rows) > limit
    return {"items": rows[:limit], "offset": offset, "next_offset": offset + limit if more else None}


def endpoint(value: Any, field_name: str = "endpoint_id") -> str:
    """A 64-hex endpoint id, lowercased; bad input names ``field_name``."""
    from aster_trust.keys import parse_endpoint_id

    try:
        return parse_endpoint_id(value if isinstance(value, str) else "")
    except UsageError as exc:
        raise invalid(field_name, exc.message, exc.hint) from None
