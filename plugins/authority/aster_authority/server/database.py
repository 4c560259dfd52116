"""One authority database: its engine, the mesh root it trusts, its policy and clock, and what
every store operation is built from (a transaction, the deployment's row, history, pages).

Built on :mod:`aster_server.storage` (SQLAlchemy Core; SQLite by default, PostgreSQL for
several replicas). Each state change is one transaction that:

1. locks the deployment's row (:meth:`Database.lock`: ``SELECT ... FOR UPDATE`` on PostgreSQL;
   SQLite's write transaction already excludes other writers),
2. decides with :mod:`aster_authority.domain` (pure),
3. writes the result.

Two writers on one deployment (two admins, two replicas on one PostgreSQL) queue on its row:
the second reads what the first committed and decides on that (an accept of a plan the first
made stale is refused with "desired version changed"). Nothing is retried and nothing is lost.

A write commits only while its call's deadline is at least :data:`COMMIT_MARGIN` away: a call
that waited past it (behind another writer's lock) has been answered DEADLINE_EXCEEDED, so
committing would be work the caller was told failed; it is rolled back instead, and logged.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Mapping, TypeVar

import sqlalchemy as sa
from aster_core.errors import ExitCode, UsageError

from aster_server import storage
from aster_server.pagecache import PageCache
from aster_server.request import Page, Refused, remaining

from ..domain.credentials import Policy, canonical_json
from ..domain.decisions import GENESIS, Head
from ..domain.errors import Refusal, invalid
from ..domain.ids import PREFIX, SERVICE, check_deployment_id
from ..domain.plans import Actor, Deployment
from ..wire import DEFAULT_LIMIT, MAX_LIMIT
from .tables import MIGRATIONS, deployment_of, deployment_values, deployments, history, records

T = TypeVar("T")
#: the server's log (``aster_server`` sends its loggers' lines to stderr in one format)
LOG = logging.getLogger("aster_server.authority")
#: seconds of its call's deadline a write must have left to commit (the commit and the answer's
#: way back take some time: a write committed later could reach a client that already gave up)
COMMIT_MARGIN = 0.5


class Database:
    """The engine and the building blocks of the store's operations. Thread-safe (one engine)."""

    def __init__(self, engine: sa.Engine, root_pubkey: bytes, policy: Policy | None = None,
                 clock: Callable[[], float] = time.time):
        self.engine = engine
        self.root_pubkey = root_pubkey
        self.policy = policy or Policy()
        self.clock = clock
        #: write transactions committed (or tried) here, and the plan list answers kept a second or
        #: until the next of them (aster_server.pagecache: another replica's writes show within it)
        self.generation = 0
        self.pages = PageCache(clock=clock)

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
    def write(self, fn: Callable[[sa.Connection], T]) -> T:
        """``fn(conn)`` in one write transaction (writers to one deployment queue on its row),
        committed only within the call's deadline (:func:`check_deadline`)."""
        try:
            with storage.transaction(self.engine) as conn:
                result = fn(conn)
                check_deadline()
                return result
        finally:
            self.generation += 1  # after the commit: an answer read before it is not kept

    def read(self, fn: Callable[[sa.Connection], T]) -> T:
        with storage.transaction(self.engine, write=False) as conn:
            return fn(conn)

    # -- the deployment row ------------------------------------------------------------
    def load(self, conn: sa.Connection, deployment_id: Any, kind: str | None = None) -> Deployment:
        """The deployment, read (a reader takes no lock)."""
        check_deployment_id(deployment_id)
        query = sa.select(deployments).where(deployments.c.deployment_id == deployment_id)
        return _found(conn.execute(query).mappings().first(), deployment_id, kind)

    def lock(self, conn: sa.Connection, deployment_id: Any, kind: str | None = None) -> Deployment:
        """The deployment, its row held until the transaction ends: every write to a deployment,
        its plans, instances, credentials, grants, reviews and challenges takes it first."""
        check_deployment_id(deployment_id)
        # SQLite: the chain's head comes with the lock (a write transaction excludes every other
        # writer from its start). PostgreSQL: a lock that waited would read the head from before
        # the other writer's commit, so the head is read after the lock, in a statement of its own.
        sqlite = conn.dialect.name != "postgresql"
        row = storage.lock(conn, deployments, {"deployment_id": deployment_id}, also=_HEAD_COLUMNS if sqlite else ())
        dep = _found(row, deployment_id, kind)
        if sqlite:
            keep_head(conn, deployment_id, Head(row["head_seq"], row["head_hash"], row["head_decided_at"])
                      if row["head_seq"] is not None else Head(0, GENESIS))
        return dep

    def save(self, conn: sa.Connection, dep: Deployment) -> None:
        """Write the (locked) deployment's new value."""
        conn.execute(sa.update(deployments).where(deployments.c.deployment_id == dep.deployment_id)
                     .values(deployment_values(dep)))

    def history(self, conn: sa.Connection, deployment_id: str, actor: Actor | None, action: str,
                **detail: Any) -> None:
        conn.execute(sa.insert(history).values(deployment_id=deployment_id, at=self.now(),
                                               actor=canonical_json(actor.as_dict() if actor else {}),
                                               action=action, detail=canonical_json(detail)))


def check_deadline() -> None:
    """Raise DEADLINE_EXCEEDED (rolling the transaction back) when the current call has less than
    :data:`COMMIT_MARGIN` seconds left; nothing outside a call (tests, ``authority status``)."""
    left = remaining()
    if left is None or left >= COMMIT_MARGIN:
        return
    from aster_server.requestlog import current_call

    ctx = current_call.get()
    LOG.warning("rolled back %s.%s: %.2f s left before its deadline at commit (the caller has been told "
                "DEADLINE_EXCEEDED, or is about to be)", getattr(ctx, "service", "?"), getattr(ctx, "method", "?"), left)
    raise Refused("DEADLINE_EXCEEDED", "the call's deadline passed before its changes were committed: nothing "
                  "was changed", "retry with a longer timeout (ASTER_AUTHORITY_TIMEOUT)")


def _head_column(column: sa.Column, label: str) -> Any:
    return sa.select(column).where(records.c.deployment_id == deployments.c.deployment_id) \
        .order_by(records.c.seq.desc()).limit(1).scalar_subquery().label(label)


#: the deployment's chain head, read by the statement that locks its row (the key's index each)
_HEAD_COLUMNS = (_head_column(records.c.seq, "head_seq"), _head_column(records.c.hash, "head_hash"),
                 _head_column(records.c.decided_at, "head_decided_at"))
_HEADS = "aster_authority.chain_heads"


def keep_head(conn: sa.Connection, chain: str, head: Head) -> None:
    """Remember ``chain``'s head for the rest of this transaction (the row lock keeps it true)."""
    tx = conn.get_transaction()
    kept = conn.info.get(_HEADS)
    if kept is None or kept[0] is not tx:  # the connection's info outlives a transaction: never reuse one
        kept = conn.info[_HEADS] = (tx, {})
    kept[1][chain] = head


def locked_head(conn: sa.Connection, chain: str) -> Head | None:
    """The head :func:`keep_head` kept for ``chain`` in this transaction, if any."""
    kept = conn.info.get(_HEADS)
    if kept is None or kept[0] is not conn.get_transaction():
        return None
    return kept[1].get(chain)


def _found(row: Mapping[str, Any] | None, deployment_id: str, kind: str | None) -> Deployment:
    if row is None or (kind is not None and row["kind"] != kind):
        prefix = PREFIX.get(kind or SERVICE, "svc")
        raise Refusal("not_found", f"no deployment {prefix}/{deployment_id}",
                      f"list them with `aster {prefix} list`, or create it with "
                      f"`aster {prefix} {deployment_id} create`",
                      exit_code=ExitCode.NOT_FOUND)
    return deployment_of(row)


# ── inputs and pages ──────────────────────────────────────────────────────────────


def page_of(offset: Any, limit: Any) -> Page:
    """The page a list asks for: ``limit`` 0 is :data:`~aster_authority.wire.DEFAULT_LIMIT`, more than
    :data:`~aster_authority.wire.MAX_LIMIT` is clamped to it; a negative one is refused."""
    return Page.of(limit, offset, MAX_LIMIT, DEFAULT_LIMIT)


def listing(page: Page, rows: list[Any]) -> dict[str, Any]:
    """A list's answer from at most ``page.fetch`` rows: ``items``, ``offset``, ``next_offset``."""
    items, next_offset = page.cut(rows)
    return {"items": items, "offset": page.offset, "next_offset": next_offset}


def endpoint(value: Any, field_name: str = "endpoint_id") -> str:
    """A 64-hex endpoint id, lowercased; bad input names ``field_name``."""
    from aster_trust.keys import parse_endpoint_id

    try:
        return parse_endpoint_id(value if isinstance(value, str) else "")
    except UsageError as exc:
        raise invalid(field_name, exc.message, exc.hint) from None
