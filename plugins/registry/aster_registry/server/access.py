"""AccessService's operations: grants of a service to consumer handles, and the service's
delegation (how consumers get tokens: open to every verified handle, or closed to grantees).

The owner's operations run under the owner's handle row lock. A consumer asking for its own
grant (``get_grant``) of a service that is missing, or that it may not use, reads "access
denied" either way, never "not found".
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aster_server import storage
from aster_server.request import Refused

from . import protect
from .database import Database
from .protect import Envelope, bad
from .tables import audit, grant, owned_service, service, t_grants, t_handles, t_services


class Access:
    def __init__(self, db: Database) -> None:
        self.db = db

    def grant_access(self, env: Envelope) -> dict[str, Any]:
        p = env.payload
        consumer = protect.check_handle(p.get("consumer_handle"), "consumer_handle")
        role = protect.check_role(p.get("role") or "consumer")
        scope = protect.check_choice(p.get("scope") or "handle", "scope", protect.SCOPES)
        node = p.get("scope_node_id")
        if scope == "node":
            if node is None:
                raise bad("scope node needs scope_node_id (the consumer's endpoint id)")
            node = protect.check_node_id(node, "scope_node_id")
        elif node is not None:
            raise bad("scope_node_id is only for scope node")
        get = owned_service(env)

        def fn(conn: Connection, env: Envelope) -> dict[str, Any]:
            row, svc = get(conn)
            now = self.db.now()
            storage.upsert(conn, t_grants, {"service_id": svc["id"], "consumer_handle": consumer, "role": role,
                                            "scope": scope, "scope_node_id": node, "granted_at": now},
                           ["service_id", "consumer_handle"])
            audit(conn, now, row["handle"], "grant_access", f"{svc['service_name']} {consumer} {role}")
            return {"consumer_handle": consumer, "role": role, "scope": scope}

        return self.db.signed(env, "signed", fn)

    def revoke_access(self, env: Envelope) -> dict[str, Any]:
        consumer = protect.check_handle(env.payload.get("consumer_handle"), "consumer_handle")
        get = owned_service(env)

        def fn(conn: Connection, env: Envelope) -> dict[str, Any]:
            row, svc = get(conn)
            gone = conn.execute(t_grants.delete().where(t_grants.c.service_id == svc["id"],
                                                        t_grants.c.consumer_handle == consumer)).rowcount
            if gone:
                audit(conn, self.db.now(), row["handle"], "revoke_access", f"{svc['service_name']} {consumer}")
            return {"consumer_handle": consumer, "revoked": bool(gone)}

        return self.db.signed(env, "signed", fn)

    def list_access(self, env: Envelope) -> dict[str, Any]:
        get = owned_service(env)

        def fn(conn: Connection, env: Envelope) -> dict[str, Any]:
            _row, svc = get(conn)
            grants = conn.execute(sa.select(t_grants).where(t_grants.c.service_id == svc["id"])
                                  .order_by(t_grants.c.consumer_handle)).mappings().all()
            return {"service_name": svc["service_name"], "grants": [grant(dict(g)) for g in grants]}

        return self.db.signed(env, "signed", fn)

    def get_grant(self, env: Envelope) -> dict[str, Any]:
        """The caller's own grant on ``handle``/``service_name`` (the consumer asks), or DENIED."""
        p = env.payload
        owner = protect.check_handle(p.get("handle"))
        name = protect.check_service_name(p.get("service_name"))

        def fn(conn: Connection, env: Envelope) -> dict[str, Any]:
            me = conn.execute(sa.select(t_handles).where(t_handles.c.pubkey == env.signer,
                                                         t_handles.c.status == "verified")).mappings().first()
            denied = Refused("PERMISSION_DENIED", f"access denied for @{owner}/{name}")
            if me is None:
                raise denied
            svc = service(conn, owner, name, denied=True)
            mine = conn.execute(sa.select(t_grants).where(
                t_grants.c.service_id == svc["id"], t_grants.c.consumer_handle == me["handle"])).mappings().first()
            if mine is None:
                delegation = json.loads(svc["delegation_json"])
                if delegation.get("mode") == "open":
                    return {"consumer_handle": me["handle"], "role": delegation["roles"][0], "scope": "handle",
                            "scope_node_id": None, "granted_at": ""}
                raise denied
            return grant(dict(mine))

        return self.db.signed(env, "signed", fn)

    def get_delegation(self, env: Envelope) -> dict[str, Any]:
        get = owned_service(env)
        return self.db.signed(env, "signed", lambda conn, env: json.loads(get(conn)[1]["delegation_json"]))

    def update_delegation(self, env: Envelope) -> dict[str, Any]:
        delegation = protect.check_delegation(env.payload.get("delegation"))
        get = owned_service(env)

        def fn(conn: Connection, env: Envelope) -> dict[str, Any]:
            row, svc = get(conn)
            now = self.db.now()
            conn.execute(t_services.update().where(t_services.c.id == svc["id"]).values(
                delegation_json=json.dumps(delegation), updated_at=now))
            audit(conn, now, row["handle"], "update_delegation", f"{svc['service_name']} {delegation['mode']}")
            return {"handle": row["handle"], "service_name": svc["service_name"], "delegation": delegation}

        return self.db.signed(env, "signed", fn)
