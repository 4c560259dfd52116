"""PublicationService's writes: publish (idempotent for the owner; a token is issued each time),
visibility, description/status/replacement, unpublish, and endpoint registration with a
producer token.

Every write about a handle's services runs under the handle's row lock (:func:`.tables.owned`).
A first publish issues the handle's recovery codes (stored hashed; shown once).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aster_core.text import control_in
from aster_server import storage
from aster_server.request import Refused, json_field

from . import codes, counts, protect
from .database import Database
from .protect import Envelope, bad
from .tables import (audit, owned, owned_service, search_text, t_endpoints, t_grants, t_handles, t_recovery,
                     t_services)

DEFAULT_ENDPOINT_TTL = 300
MAX_ENDPOINTS = 16


def parse_endpoint(e: Any) -> tuple[str, str, list[str], int]:
    """``(node_id, relay, direct_addrs, ttl)`` of one endpoint object, checked."""
    if not isinstance(e, dict):
        raise bad("each endpoint must be an object")
    node_id = protect.check_node_id(e.get("node_id"), "endpoint node_id")
    relay = protect.check_str(e.get("relay") or "", "endpoint relay", protect.MAX_RELAY) or ""
    addrs = e.get("direct_addrs", [])
    if (not isinstance(addrs, list) or len(addrs) > 16
            or not all(isinstance(a, str) and 0 < len(a) <= 64 and control_in(a) is None for a in addrs)):
        raise bad("endpoint direct_addrs must be at most 16 host:port strings")
    ttl = protect.check_int(e.get("ttl", DEFAULT_ENDPOINT_TTL), "endpoint ttl", 30, protect.MAX_TTL)
    return node_id, relay, addrs, ttl


def put_endpoint(conn: Connection, sid: int, endpoint: tuple[str, str, list[str], int], now: int) -> None:
    node_id, relay, addrs, ttl = endpoint
    storage.upsert(conn, t_endpoints, {"service_id": sid, "node_id": node_id, "relay": relay,
                                       "direct_addrs": json.dumps(addrs), "registered_at": now, "ttl": ttl,
                                       "expires_at": now + ttl}, ["service_id", "node_id"])


def _manifest(p: dict[str, Any], name: str) -> tuple[str, str, int, int]:
    """``(manifest_json, contract_id, method count, version)``: ``contract_id`` must be the BLAKE3
    hash of the manifest's bytes and the manifest must describe ``name``."""
    manifest_json = protect.check_str(p.get("manifest_json"), "manifest_json", protect.MAX_MANIFEST, required=True)
    contract_id = p.get("contract_id")
    if not isinstance(contract_id, str) or not protect.HEX64.fullmatch(contract_id):
        raise bad("contract_id must be 64 lowercase hex characters")
    import blake3

    if blake3.blake3(manifest_json.encode("utf-8")).hexdigest() != contract_id:
        raise bad("contract_id is not the BLAKE3 hash of manifest_json")
    manifest = json_field(manifest_json, "manifest_json", max_bytes=protect.MAX_MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("service") != name:
        raise bad("manifest_json must be a manifest whose service is service_name")
    methods = manifest.get("methods", [])
    version = manifest.get("version", 1)
    if not isinstance(methods, list) or isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise bad("manifest_json must have a methods list and a positive version")
    return manifest_json, contract_id, len(methods), version


class Publications:
    def __init__(self, db: Database, tokens: codes.Tokens) -> None:
        self.db = db
        self.tokens = tokens

    def publish(self, env: Envelope) -> dict[str, Any]:
        p = env.payload
        name = protect.check_service_name(p.get("service_name"))
        manifest_json, contract_id, method_count, version = _manifest(p, name)
        description = protect.check_str(p.get("description"), "description", protect.MAX_DESCRIPTION, required=True)
        status = protect.check_choice(p.get("status") or "experimental", "status", protect.STATUSES)
        delegation = protect.check_delegation(p.get("delegation"))
        endpoints = p.get("endpoints", [])
        if not isinstance(endpoints, list) or not 1 <= len(endpoints) <= MAX_ENDPOINTS:
            raise bad(f"endpoints must list 1 to {MAX_ENDPOINTS} endpoints")
        parsed = [parse_endpoint(e) for e in endpoints]

        def fn(conn: Connection, env: Envelope) -> dict[str, Any]:
            handle = owned(conn, env)["handle"]
            now = self.db.now()
            existing = conn.execute(sa.select(t_services).where(t_services.c.handle == handle,
                                                                t_services.c.service_name == name)).mappings().first()
            first = existing is None and not any(conn.execute(sa.select(sa.func.count()).select_from(table).where(
                table.c.handle == handle)).scalar_one() for table in (t_services, t_recovery))
            values = dict(contract_id=contract_id, manifest_json=manifest_json, description=description,
                          search_text=search_text(name, description, handle), status=status,
                          delegation_json=json.dumps(delegation), method_count=method_count, version=version,
                          updated_at=now)
            if existing is None:
                token_id = secrets.token_hex(8)
                row = dict(handle=handle, service_name=name, name_lower=name.lower(), visibility="public",
                           token_id=token_id, published_at=now, **values)
                sid = conn.execute(t_services.insert().values(**row).returning(t_services.c.id)).scalar_one()
                counts.apply(conn, self.db.search_backend, None, row)
            else:
                token_id, sid = existing["token_id"], existing["id"]
                conn.execute(t_services.update().where(t_services.c.id == sid).values(**values))
                counts.apply(conn, self.db.search_backend, existing, {**existing, **values})
            for endpoint in parsed:
                put_endpoint(conn, sid, endpoint, now)
            conn.execute(t_handles.update().where(t_handles.c.handle == handle).values(last_published_at=now))
            recovery: list[str] = []
            if first:
                recovery = codes.new_recovery_codes()
                conn.execute(t_recovery.insert(), [{"handle": handle, "code_hash": codes.recovery_hash(c)}
                                                   for c in recovery])
            audit(conn, now, handle, "publish", f"{name} {contract_id}")
            token = self.tokens.issue(handle=handle, name=name, contract_id=contract_id, pubkey=env.signer,
                                      token_id=token_id, at_ms=int(self.db.clock() * 1000))
            return {"handle": handle, "service_name": name, "contract_id": contract_id, "producer_token": token,
                    "first_publish": first, "recovery_codes": recovery}

        return self.db.signed(env, "publish", fn)

    def set_visibility(self, env: Envelope) -> dict[str, Any]:
        visibility = protect.check_choice(env.payload.get("visibility"), "visibility", protect.VISIBILITIES)
        get = owned_service(env)

        def fn(conn: Connection, env: Envelope) -> dict[str, Any]:
            row, svc = get(conn)
            now = self.db.now()
            conn.execute(t_services.update().where(t_services.c.id == svc["id"]).values(
                visibility=visibility, updated_at=now))
            counts.apply(conn, self.db.search_backend, svc, {**svc, "visibility": visibility})
            audit(conn, now, row["handle"], "set_visibility", f"{svc['service_name']} {visibility}")
            return {"handle": row["handle"], "service_name": svc["service_name"], "visibility": visibility}

        return self.db.signed(env, "signed", fn)

    def update_service(self, env: Envelope) -> dict[str, Any]:
        p = env.payload
        description = protect.check_str(p.get("description"), "description", protect.MAX_DESCRIPTION, nullable=True)
        status = p.get("status")
        if status is not None:
            protect.check_choice(status, "status", protect.STATUSES)
        given = p.get("replacement")
        replacement = protect.check_replacement(given) if given is not None else None
        if description is None and status is None and given is None:
            raise bad("give at least one of description, status, replacement")
        get = owned_service(env)

        def fn(conn: Connection, env: Envelope) -> dict[str, Any]:
            row, svc = get(conn)
            now = self.db.now()
            values: dict[str, Any] = {"updated_at": now}
            if description is not None:
                values["description"] = description
                values["search_text"] = search_text(svc["service_name"], description, row["handle"])
            if status is not None:
                values["status"] = status
            if given is not None:
                values["replacement"] = replacement
            conn.execute(t_services.update().where(t_services.c.id == svc["id"]).values(**values))
            if "search_text" in values:
                counts.apply(conn, self.db.search_backend, svc, {**svc, **values})
            svc.update(values)
            audit(conn, now, row["handle"], "update_service", svc["service_name"])
            return {"handle": row["handle"], "service_name": svc["service_name"], "description": svc["description"],
                    "status": svc["status"], "replacement": svc["replacement"]}

        return self.db.signed(env, "signed", fn)

    def unpublish(self, env: Envelope) -> dict[str, Any]:
        get = owned_service(env)

        def fn(conn: Connection, env: Envelope) -> dict[str, Any]:
            row, svc = get(conn)
            conn.execute(t_endpoints.delete().where(t_endpoints.c.service_id == svc["id"]))
            conn.execute(t_grants.delete().where(t_grants.c.service_id == svc["id"]))
            conn.execute(t_services.delete().where(t_services.c.id == svc["id"]))
            counts.apply(conn, self.db.search_backend, svc, None)
            audit(conn, self.db.now(), row["handle"], "unpublish", svc["service_name"])
            return {"handle": row["handle"], "service_name": svc["service_name"], "unpublished": True}

        return self.db.signed(env, "signed", fn)

    def register_endpoint(self, req: Any) -> dict[str, Any]:
        """What a producer's runtime calls with its token (an untyped map): its endpoint is live for ``ttl``."""
        if not isinstance(req, dict):
            raise bad("register_endpoint takes a map")
        raw = req.get("producer_token")
        if not isinstance(raw, str) or not raw or len(raw) > protect.MAX_MAP:
            raise bad("producer_token is required")
        token = raw
        if raw.lstrip().startswith("{"):  # the runtime's JSON entry, or the bare token
            entry = json_field(raw, "producer_token", max_bytes=protect.MAX_MAP)
            token = entry.get("producer_token", "") if isinstance(entry, dict) else None
        if not isinstance(token, str):
            raise bad("producer_token must be a string")
        data = self.tokens.open(token)
        endpoint = parse_endpoint({"node_id": req.get("node_id"), "relay": req.get("relay", ""),
                                   "direct_addrs": req.get("direct_addrs", []),
                                   "ttl": req.get("ttl", DEFAULT_ENDPOINT_TTL)})
        self.db.limits.hit("register_endpoint", endpoint[0])

        def body(conn: Connection) -> dict[str, Any]:
            svc = conn.execute(sa.select(t_services.c.id, t_services.c.token_id, t_services.c.contract_id).where(
                t_services.c.handle == data.get("h"), t_services.c.service_name == data.get("s"))).first()
            if svc is None or svc.token_id != data.get("t"):
                raise Refused("PERMISSION_DENIED", "producer token was revoked (the service was unpublished)")
            if svc.contract_id != data.get("c"):
                raise Refused("FAILED_PRECONDITION", "the service was republished with another contract; "
                                                     "publish again for a new token")
            now = self.db.now()
            put_endpoint(conn, svc.id, endpoint, now)
            return {"ok": True, "service_name": data.get("s"), "expires_at": now + endpoint[3]}

        return self.db.write(body)
