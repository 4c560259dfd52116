"""``aster authority serve``: open (and migrate) the database, build the five services over
it and run them on an AsterServer through :mod:`aster_server.lifecycle` until SIGTERM/SIGINT.

The gate is open (a node renewing an expired credential must still get in), but the server
knows the mesh root key, so any credential presented is verified against it.
"""

from __future__ import annotations

from typing import Any

from ..domain.credentials import Policy
from .device_handlers import device_services
from .devices import DeviceStore
from .handlers import deployment_services
from .store import Store


def build_services(store: Store) -> list[Any]:
    """Every service of the authority over one store: the deployment-level ones and the device ones."""
    return [*deployment_services(store), *device_services(DeviceStore(store))]


def serve(*, db: str | None, root_pubkey: bytes, identity: str | None, advertise: list[str] | None = None,
          max_lifetime: float | None = None, plan_ttl: int | None = None) -> int:
    """Open (and migrate) the database, then run the server until SIGTERM/SIGINT."""
    from aster_server import lifecycle, nodekey, storage

    home = nodekey.state_dir("authority")
    key, key_path, _created = nodekey.load_node_key(identity, home)
    url = db or str(home / "authority.db")
    policy = Policy()
    if plan_ttl:
        policy.plan_ttl = plan_ttl
    store = Store.open(url, root_pubkey, policy=policy)
    spec = lifecycle.ServerSpec(
        name="authority", services=build_services(store), node_key=key, allow_all_consumers=True,
        root_pubkey=root_pubkey, health=store.health, on_stop=[store.close], advertise=advertise or (),
        workers=2 if store.engine.dialect.name == "sqlite" else None,  # fewer threads, less contention
        extra_ready={"database": storage.redact(store.engine.url), "root_pubkey": root_pubkey.hex(),
                     "node_key": str(key_path)})
    return lifecycle.run(spec, workdir=home, max_lifetime=max_lifetime)
