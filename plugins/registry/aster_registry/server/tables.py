"""The registry's tables, as its migrations (``migrations/versions/``) leave them, and the
row reads and shapes every part of the store shares.

Times are epoch seconds. Only the columns the code reads or writes are declared; the schema
itself is the migrations' business.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aster_server import storage
from aster_server.request import Refused

from . import protect
from .protect import Envelope

MIGRATIONS = "aster_registry.server.migrations"

meta = sa.MetaData()
t_meta = sa.Table("registry_meta", meta, sa.Column("key", sa.String, primary_key=True), sa.Column("value", sa.Text))
t_handles = sa.Table(
    "registry_handles", meta,
    sa.Column("handle", sa.String, primary_key=True),
    *(sa.Column(n, sa.String) for n in ("pubkey", "email", "email_hash", "status", "display_name", "bio", "url")),
    sa.Column("announcements", sa.Boolean),
    *(sa.Column(n, sa.BigInteger) for n in ("created_at", "verified_at", "verification_expires_at",
                                             "last_published_at")))
t_codes = sa.Table("registry_codes", meta, sa.Column("handle", sa.String, primary_key=True),
                   sa.Column("code_hash", sa.Text),
                   *(sa.Column(n, sa.BigInteger) for n in ("expires_at", "attempts", "resends", "sent_at")))
t_nonces = sa.Table("registry_nonces", meta, sa.Column("signer", sa.String, primary_key=True),
                    sa.Column("nonce", sa.String, primary_key=True), sa.Column("seen_at", sa.BigInteger))
t_rate = sa.Table("registry_rate", meta, sa.Column("bucket", sa.String, primary_key=True),
                  sa.Column("window_end", sa.BigInteger), sa.Column("count", sa.Integer))
t_services = sa.Table(
    "registry_services", meta, sa.Column("id", sa.Integer, primary_key=True),
    *(sa.Column(n, sa.String) for n in ("handle", "service_name", "name_lower", "contract_id", "description",
                                         "status", "replacement", "visibility", "token_id")),
    sa.Column("manifest_json", sa.Text), sa.Column("delegation_json", sa.Text), sa.Column("search_text", sa.Text),
    *(sa.Column(n, sa.Integer) for n in ("version", "method_count")),
    *(sa.Column(n, sa.BigInteger) for n in ("published_at", "updated_at")))
#: word queries' kept match counts and the change counter that guards them (migration r0006, :mod:`.counts`)
t_match_counts = sa.Table("registry_match_counts", meta, sa.Column("query", sa.String, primary_key=True),
                          sa.Column("total", sa.BigInteger), sa.Column("counted_at", sa.BigInteger))
t_search_state = sa.Table("registry_search_state", meta, sa.Column("id", sa.Integer, primary_key=True),
                          sa.Column("changes", sa.BigInteger), sa.Column("applied", sa.BigInteger))
t_endpoints = sa.Table("registry_endpoints", meta, sa.Column("service_id", sa.Integer, primary_key=True),
                       sa.Column("node_id", sa.String, primary_key=True), sa.Column("relay", sa.String),
                       sa.Column("direct_addrs", sa.Text),
                       *(sa.Column(n, sa.BigInteger) for n in ("registered_at", "ttl", "expires_at")))
t_grants = sa.Table("registry_grants", meta, sa.Column("service_id", sa.Integer, primary_key=True),
                    sa.Column("consumer_handle", sa.String, primary_key=True),
                    *(sa.Column(n, sa.String) for n in ("role", "scope", "scope_node_id")),
                    sa.Column("granted_at", sa.BigInteger))
t_recovery = sa.Table("registry_recovery_codes", meta, sa.Column("id", sa.Integer, primary_key=True),
                      sa.Column("handle", sa.String), sa.Column("code_hash", sa.String),
                      sa.Column("used_at", sa.BigInteger))
t_audit = sa.Table("registry_audit", meta, sa.Column("id", sa.Integer, primary_key=True),
                   sa.Column("at", sa.BigInteger), sa.Column("handle", sa.String), sa.Column("action", sa.String),
                   sa.Column("detail", sa.Text))


# ---------------------------------------------------------------------------- values


def iso(epoch: int | None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)) if epoch else ""


def email_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def mask_email(email: str) -> str:
    name, _, domain = email.partition("@")
    return f"{name[:1]}***@{domain}"


def search_text(name: str, description: str, handle: str) -> str:
    """What word queries match (the ``search_text`` column)."""
    return f"{name} {description} {handle}".lower()


def entry(svc: dict[str, Any], live: int) -> dict[str, Any]:
    """A service row as a ``DiscoverEntry``'s fields; ``live``: its endpoints within their TTL."""
    delegation = json.loads(svc["delegation_json"] or "{}")
    return {"handle": svc["handle"], "service_name": svc["service_name"], "version": svc["version"],
            "contract_id": svc["contract_id"], "description": svc["description"], "status": svc["status"],
            "method_count": svc["method_count"], "endpoint_count": int(live), "visibility": svc["visibility"],
            "delegation_mode": delegation.get("mode", "open"), "published_at": iso(svc["published_at"])}


def grant(g: dict[str, Any]) -> dict[str, Any]:
    """A grant row as an ``AccessGrant``'s fields."""
    return {"consumer_handle": g["consumer_handle"], "role": g["role"], "scope": g["scope"],
            "scope_node_id": g["scope_node_id"], "granted_at": iso(g["granted_at"])}


# ---------------------------------------------------------------------------- shared reads


def owned(conn: Connection, env: Envelope, *, verified: bool = True) -> dict[str, Any]:
    """The caller's handle row, locked until the transaction ends: ``payload.handle`` must be
    bound to ``signer_pubkey``. Everything a handle owns is changed under this lock, so two
    requests about one handle take turns (README of aster-server: "Concurrency")."""
    handle = protect.check_handle(env.payload.get("handle"))
    row = storage.lock(conn, t_handles, {"handle": handle})
    if row is None or row["pubkey"] != env.signer:
        raise Refused("PERMISSION_DENIED", f"@{handle} is not registered to this signing key")
    if verified and row["status"] != "verified":
        raise Refused("FAILED_PRECONDITION", f"@{handle} is not verified yet; run aster verify with the mailed code")
    return row


def service(conn: Connection, handle: str, name: str, *, denied: bool = False) -> dict[str, Any]:
    """The service row; NOT_FOUND, or PERMISSION_DENIED "access denied" with ``denied`` (so a
    consumer cannot tell a missing service from one it may not use)."""
    row = conn.execute(sa.select(t_services).where(t_services.c.handle == handle,
                                                   t_services.c.service_name == name)).mappings().first()
    if row is None:
        if denied:
            raise Refused("PERMISSION_DENIED", f"access denied for @{handle}/{name}")
        raise Refused("NOT_FOUND", f"@{handle}/{name} is not published")
    return dict(row)


def owned_service(env: Envelope) -> Callable[[Connection], tuple[dict[str, Any], dict[str, Any]]]:
    """A reader of ``(the caller's locked handle row, its service payload.service_name)``; the
    service name is checked now, before any transaction."""
    name = protect.check_service_name(env.payload.get("service_name"))

    def get(conn: Connection) -> tuple[dict[str, Any], dict[str, Any]]:
        row = owned(conn, env)
        return row, service(conn, row["handle"], name)

    return get


def live_endpoints(conn: Connection, service_ids: list[int], now: int) -> dict[int, int]:
    """``{service id: endpoints within their TTL}`` for the given services."""
    if not service_ids:
        return {}
    e = t_endpoints.c
    return dict(conn.execute(sa.select(e.service_id, sa.func.count())
                             .where(e.service_id.in_(service_ids), e.expires_at >= now)
                             .group_by(e.service_id)).all())


def audit(conn: Connection, at: int, handle: str | None, action: str, detail: str = "") -> None:
    conn.execute(t_audit.insert().values(at=at, handle=handle, action=action, detail=detail[:500]))
