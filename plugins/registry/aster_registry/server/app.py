"""``aster registry serve`` and ``status`` as library functions (the click commands call these)."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from aster_core.errors import UsageError

LOG = logging.getLogger("aster_server.registry")
SERVER = "registry"


def default_db() -> str:
    from aster_server.nodekey import state_dir

    return str(state_dir(SERVER) / "registry.db")


def open_store(db: str | None, **settings: Any) -> Any:
    """The store on ``db`` (migrated); ``settings`` go to :class:`.store.Store`."""
    from aster_server import storage

    from .store import Store
    from .tables import MIGRATIONS

    engine = storage.open_database(db or default_db(), MIGRATIONS)
    return Store(engine, **settings)


def serve(*, db: str | None, smtp: str | None, identity: str | None, bind: tuple[str, ...], dev_mail: bool,
          mail_from: str | None = None, starttls: bool = False, smtp_user: str | None = None,
          resend_cooldown: int | None = None, reap_interval: float = 30.0,
          max_lifetime: float | None = None, read_limit: int | None = None) -> int:
    """Serve until stopped. ``resend_cooldown``: seconds between two verification mails for one
    handle (``--resend-cooldown`` / ``ASTER_REGISTRY_RESEND_COOLDOWN``; default 60);
    ``read_limit``: unsigned reads per minute per caller (``--read-limit``; default 600)."""
    from aster_server import lifecycle, nodekey, storage

    from .mail import MailConfig, address, parse_smtp

    lifecycle.configure_logging()  # warnings at start (a key or database made private) read like the rest
    if smtp is None and not dev_mail:
        raise UsageError("the registry has no way to deliver verification codes",
                         "pass --smtp HOST:PORT, or --dev-mail to print codes to the server log (development only)")
    if mail_from is not None:
        address(mail_from, "--mail-from")
    mail = MailConfig(smtp=parse_smtp(smtp) if smtp else None, dev_mail=dev_mail,
                      sender=mail_from or "aster-registry@localhost", starttls=starttls, user=smtp_user,
                      password=os.environ.get("ASTER_REGISTRY_SMTP_PASSWORD"))
    hosts = lifecycle.parse_bind(bind)
    key, key_path, created = nodekey.load_node_key(identity, nodekey.state_dir(SERVER))
    settings: dict[str, Any] = {} if resend_cooldown is None else {"resend_cooldown": resend_cooldown}
    if read_limit is not None:
        settings["limits"] = {"read": (read_limit, 60)}
    store = open_store(db, **settings)
    if store.search_backend == "scan":
        LOG.warning("this Python's sqlite3 has no FTS5: discover scans every service for word queries "
                    "(use a Python built with FTS5, or PostgreSQL, for large registries)")
    from .service import Registry

    registry = Registry(store, mail)

    async def reaper(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=reap_interval)
                return
            except asyncio.TimeoutError:
                pass
            try:
                dropped = await asyncio.to_thread(store.reap)
                if any(dropped.values()):
                    LOG.info("reaper dropped %s", ", ".join(f"{v} {k}" for k, v in dropped.items() if v))
            except Exception as exc:  # noqa: BLE001 - the next round tries again
                LOG.warning("reaper failed: %s", exc)

    spec = lifecycle.ServerSpec(
        name=SERVER, services=registry.services, node_key=key, allow_all_consumers=True,
        health=lambda: {"counts": store.counts(), "database": storage.describe(store.engine)},
        background=[reaper], on_stop=[store.limits.flush, store.engine.dispose], advertise=hosts,
        extra_ready={"database": storage.redact(store.engine.url), "mail": mail.describe(),
                     "search": store.search_backend,
                     "identity": str(key_path), "identity_created": created})
    return lifecycle.run(spec, workdir=nodekey.state_dir(SERVER), max_lifetime=max_lifetime)


def status(db: str | None) -> dict[str, Any]:
    from aster_server import storage

    from .tables import MIGRATIONS

    store = open_store(db)
    try:
        return {"database": storage.describe(store.engine),
                "schema": storage.current_revision(store.engine, MIGRATIONS),
                "search": store.search_backend,
                **store.counts()}
    finally:
        store.engine.dispose()
