"""The authority's store: every operation on deployments, plans, instances, credentials and
grants, each one transaction, on one database.

    store = Store.open("authority.db", root_pubkey)          # or postgresql://...; migrated
    store.create("service", "payments", roles=["tasks"], actor=actor)
    DeviceStore(store).register("sensors", docs, actor=actor)

The operations live with the tables they hold (:mod:`.deployments`, :mod:`.credentials`,
:mod:`.grants`; devices in :mod:`.devices`), on :class:`.database.Database`'s transactions.
"""

from __future__ import annotations

from .credentials import CredentialStore
from .deployments import DeploymentStore
from .grants import GrantStore


class Store(DeploymentStore, CredentialStore, GrantStore):
    """All reads and writes of one authority database but the device ones. Thread-safe (one engine)."""


__all__ = ["Store"]
