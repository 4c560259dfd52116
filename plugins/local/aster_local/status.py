"""``aster local status``: what the local mesh is made of and whether each server answers.

The addresses are the ones config.toml holds (``up`` writes them once both servers are
ready); each server is asked with a short timeout: the authority its ``status`` (with the
admin credential: does it admit us as admin?), the registry one page of its directory. A
server that does not answer is reported, not an error: the command exits 0 whenever the
mesh exists (4 when there is none).
"""

from __future__ import annotations

from typing import Any

from aster_core.errors import AsterError

from .layout import Layout

PROBE_TIMEOUT = 5.0


def _authority(address: str | None, credential: str | None) -> dict[str, Any]:
    from aster_authority.client.connection import Authority
    from aster_authority.wire import NODE, Empty

    try:
        with Authority.open(address, credential, timeout=PROBE_TIMEOUT) as auth:
            info = auth.call(NODE, "status", Empty())
    except AsterError as exc:
        return {"answers": False, "admin": None, "problem": exc.message}
    return {"answers": True, "admin": bool(info.get("admin")), "problem": None}


def _registry(address: str) -> dict[str, Any]:
    from aster_registry.client.login import probe

    try:
        return {"answers": True, "public_services": probe(address, PROBE_TIMEOUT), "problem": None}
    except AsterError as exc:
        return {"answers": False, "public_services": None, "problem": exc.message}


def status(layout: Layout) -> dict[str, Any]:
    from aster_authority.client.settings import admin_credential, setting
    from aster_registry.client.address import registry_address

    record = layout.read()
    auth_addr = setting("ASTER_AUTHORITY_ADDR", "address")
    try:
        reg_addr: str | None = registry_address(None).value
    except AsterError:
        reg_addr = None
    no_address = {"answers": False, "problem": "no address in config.toml yet: run `aster local up`"}
    servers = {
        "authority": {"address": auth_addr, "db": record["authority"]["db"],
                      **(_authority(auth_addr, admin_credential(None)) if auth_addr else {**no_address, "admin": None})},
        "registry": {"address": reg_addr, "db": record["registry"]["db"],
                     **(_registry(reg_addr) if reg_addr else {**no_address, "public_services": None})},
    }
    return {"dir": str(layout.dir), "profile": record["profile"], "root_pubkey": record["root_pubkey"],
            "admin_identity": record["admin_identity"], "admin_endpoint_id": record.get("admin_endpoint_id"),
            "servers": servers}
