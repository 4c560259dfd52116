"""The contract store: each plan's manifests kept once per digest (``authority_contracts``), and
the sweep ``--purge-unused-contracts`` runs.

A digest is *used* while a plan (of any deployment, live or removed and kept) or a live
deployment's desired contract names it. Apply and the sweep take the contract's row first
(``aster_server.storage.lock``: ``FOR UPDATE`` on PostgreSQL; SQLite's write transaction already
excludes other writers), so a sweep never drops a contract an apply is about to refer to: either
the apply's plan is committed before the sweep looks, or the apply finds the row gone and stores
it again.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from aster_server import storage

from ..domain.credentials import canonical_json
from .tables import contracts, deployments, plan_rows


def keep(conn: sa.Connection, digest: str, manifests: Any, now: int) -> None:
    """Store ``manifests`` under ``digest`` unless stored, and hold the row until the transaction ends."""
    while storage.lock(conn, contracts, {"digest": digest}) is None:
        storage.insert_ignore(conn, contracts, {"digest": digest, "manifests": canonical_json(manifests),
                                                "stored_at": now}, keys=["digest"])


def _used(digest: str) -> Any:
    return sa.or_(sa.exists().where(plan_rows.c.digest == digest),
                  sa.exists().where(deployments.c.desired_digest == digest))


def sweep(conn: sa.Connection) -> list[str]:
    """Drop every stored contract no deployment uses; the digests dropped, sorted."""
    candidates = [r.digest for r in conn.execute(sa.select(contracts.c.digest).where(
        ~sa.exists().where(plan_rows.c.digest == contracts.c.digest),
        ~sa.exists().where(deployments.c.desired_digest == contracts.c.digest)).order_by(contracts.c.digest))]
    dropped = []
    for digest in candidates:
        # held, then looked at again: an apply that took the row first has committed its plan by now
        if storage.lock(conn, contracts, {"digest": digest}) is None:
            continue
        if conn.execute(sa.select(_used(digest))).scalar():
            continue
        conn.execute(sa.delete(contracts).where(contracts.c.digest == digest))
        dropped.append(digest)
    return dropped
