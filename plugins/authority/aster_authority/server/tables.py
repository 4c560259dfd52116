"""The authority's tables as SQLAlchemy Core sees them, and rows to domain values and back.

The schema itself is made by the migrations (:mod:`.migrations`, version table
``alembic_version_authority``, tables prefixed ``authority_``): these definitions name the
columns the store reads and writes and must follow the newest migration.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Mapping

import sqlalchemy as sa

from ..domain.credentials import canonical_json
from ..domain.devices import Review
from ..domain.plans import Deployment, Plan

MIGRATIONS = "aster_authority.server.migrations"

md = sa.MetaData()
deployments = sa.Table(
    "authority_deployments", md,
    sa.Column("deployment_id", sa.String(64), primary_key=True), sa.Column("kind", sa.String(16)),
    sa.Column("version", sa.String(26)), sa.Column("namespaces", sa.Text),
    sa.Column("compatibility", sa.String(16)), sa.Column("review_mode", sa.String(16)), sa.Column("roles", sa.Text),
    sa.Column("disabled", sa.Boolean), sa.Column("desired_manifests", sa.Text),
    sa.Column("desired_digest", sa.String(80)), sa.Column("created_at", sa.BigInteger),
    sa.Column("updated_at", sa.BigInteger))
plan_rows = sa.Table(
    "authority_plans", md,
    sa.Column("plan_id", sa.String(26), primary_key=True), sa.Column("deployment_id", sa.String(64)),
    sa.Column("classification", sa.String(16)), sa.Column("state", sa.String(16)),
    sa.Column("base_version", sa.String(26)), sa.Column("manifests", sa.Text), sa.Column("digest", sa.String(80)),
    sa.Column("changes", sa.Text), sa.Column("warnings", sa.Text), sa.Column("created_at", sa.BigInteger),
    sa.Column("expires_at", sa.BigInteger), sa.Column("decided_at", sa.BigInteger),
    sa.Column("decided_by", sa.Text), sa.Column("decision_reason", sa.Text))
instances = sa.Table(
    "authority_instances", md,
    sa.Column("instance_id", sa.String(40), primary_key=True), sa.Column("deployment_id", sa.String(64)),
    sa.Column("kind", sa.String(16)), sa.Column("endpoint_id", sa.String(64)), sa.Column("state", sa.String(16)),
    sa.Column("disabled", sa.Boolean), sa.Column("public_key", sa.String(64)),
    sa.Column("activation_key", sa.String(64)), sa.Column("metadata", sa.Text),
    sa.Column("created_at", sa.BigInteger), sa.Column("renewed_at", sa.BigInteger),
    sa.Column("activated_at", sa.BigInteger), sa.Column("revoked_at", sa.BigInteger))
credentials = sa.Table(
    "authority_credentials", md,
    sa.Column("deployment_id", sa.String(64), primary_key=True),
    sa.Column("endpoint_id", sa.String(64), primary_key=True), sa.Column("subject", sa.String(16), primary_key=True),
    sa.Column("type", sa.String(16)), sa.Column("credential", sa.Text), sa.Column("attributes", sa.Text),
    sa.Column("expires_at", sa.BigInteger), sa.Column("uploaded_at", sa.BigInteger),
    sa.Column("uploaded_by", sa.String(64)))
grants = sa.Table(
    "authority_grants", md,
    sa.Column("deployment_id", sa.String(64), primary_key=True), sa.Column("consumer", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(128), primary_key=True), sa.Column("created_at", sa.BigInteger),
    sa.Column("created_by", sa.String(64)))
revocations = sa.Table(
    "authority_revocations", md,
    sa.Column("deployment_id", sa.String(64), primary_key=True),
    sa.Column("endpoint_id", sa.String(64), primary_key=True), sa.Column("reason", sa.Text),
    sa.Column("revoked_at", sa.BigInteger))
history = sa.Table(
    "authority_history", md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True), sa.Column("deployment_id", sa.String(64)),
    sa.Column("at", sa.BigInteger), sa.Column("actor", sa.Text), sa.Column("action", sa.String(40)),
    sa.Column("detail", sa.Text))
reviews = sa.Table(
    "authority_reviews", md,
    sa.Column("review_id", sa.String(26), primary_key=True), sa.Column("deployment_id", sa.String(64)),
    sa.Column("instance_id", sa.String(40)), sa.Column("state", sa.String(16)),
    sa.Column("requested_at", sa.BigInteger), sa.Column("decided_at", sa.BigInteger), sa.Column("reason", sa.Text),
    sa.Column("decided_by", sa.Text))
challenges = sa.Table(
    "authority_challenges", md,
    sa.Column("challenge", sa.String(64), primary_key=True), sa.Column("deployment_id", sa.String(64)),
    sa.Column("endpoint_id", sa.String(64)), sa.Column("expires_at", sa.BigInteger))
removed = sa.Table(
    "authority_removed", md,
    sa.Column("deployment_id", sa.String(64), primary_key=True), sa.Column("kind", sa.String(16)),
    sa.Column("deployment", sa.Text), sa.Column("removed_at", sa.BigInteger), sa.Column("removed_by", sa.Text),
    sa.Column("detail", sa.Text))
contracts = sa.Table(
    "authority_contracts", md,
    sa.Column("digest", sa.String(80), primary_key=True), sa.Column("manifests", sa.Text),
    sa.Column("stored_at", sa.BigInteger))

records = sa.Table(
    "authority_records", md,
    sa.Column("deployment_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False), sa.Column("hash", sa.String(64)),
    sa.Column("action", sa.String(40)), sa.Column("signer", sa.String(64)), sa.Column("decided_at", sa.BigInteger),
    sa.Column("stored_at", sa.BigInteger), sa.Column("record", sa.Text))
signers = sa.Table(
    "authority_signers", md,
    sa.Column("endpoint_id", sa.String(64), primary_key=True), sa.Column("name", sa.Text),
    sa.Column("roles", sa.Text), sa.Column("first_seen", sa.BigInteger), sa.Column("last_seen", sa.BigInteger),
    sa.Column("credential_expires_at", sa.BigInteger), sa.Column("revoked_at", sa.BigInteger),
    sa.Column("revoked_by", sa.String(64)), sa.Column("reason", sa.Text))


def deployment_of(row: Mapping[str, Any]) -> Deployment:
    """A deployment row (as a mapping: ``storage.lock`` and ``.mappings()`` give one)."""
    return Deployment(row["deployment_id"], row["kind"], row["version"], row["created_at"], row["updated_at"],
                      tuple(json.loads(row["namespaces"])), row["compatibility"], row["review_mode"],
                      tuple(json.loads(row["roles"])), bool(row["disabled"]), json.loads(row["desired_manifests"]),
                      row["desired_digest"])


def deployment_values(d: Deployment) -> dict[str, Any]:
    return {"kind": d.kind, "version": d.version, "namespaces": canonical_json(list(d.namespaces)),
            "compatibility": d.compatibility, "review_mode": d.review_mode, "roles": canonical_json(list(d.roles)),
            "disabled": d.disabled, "desired_manifests": canonical_json(d.desired_manifests),
            "desired_digest": d.desired_digest, "created_at": d.created_at, "updated_at": d.updated_at}


def plan_select() -> Any:
    """``SELECT`` of plans with their manifests from the contract store (add ``.where``): what
    :func:`plan_of` reads."""
    return sa.select(plan_rows, contracts.c.manifests.label("stored_manifests")).select_from(
        plan_rows.outerjoin(contracts, contracts.c.digest == plan_rows.c.digest))


def plan_of(row: Any, loads: Callable[[str], Any] = json.loads) -> Plan:
    """A row of :func:`plan_select`. ``loads``: a listing passes
    ``aster_server.jsonmemo.ParsedJson.loads`` (values then shared: read-only)."""
    # the manifests live in the contract store, once per digest (plans made before it: in the row)
    manifests = row.manifests or getattr(row, "stored_manifests", None) or "[]"
    return Plan(row.plan_id, row.deployment_id, row.classification, row.state, row.base_version,
                loads(manifests), row.digest, loads(row.changes), loads(row.warnings),
                row.created_at, row.expires_at, row.decided_at,
                json.loads(row.decided_by) if row.decided_by else None, row.decision_reason)


def plan_values(p: Plan) -> dict[str, Any]:
    return {"plan_id": p.plan_id, "deployment_id": p.deployment_id, "classification": p.classification,
            "state": p.state, "base_version": p.base_version, "manifests": "",  # in the contract store
            "digest": p.digest, "changes": canonical_json(p.changes), "warnings": canonical_json(p.warnings),
            "created_at": p.created_at, "expires_at": p.expires_at, "decided_at": p.decided_at,
            "decided_by": canonical_json(p.decided_by) if p.decided_by else None,
            "decision_reason": p.decision_reason}


def review_of(row: Any) -> Review:
    return Review(row.review_id, row.deployment_id, row.instance_id, row.state, row.requested_at, row.decided_at,
                  row.reason, json.loads(row.decided_by) if row.decided_by else None)
