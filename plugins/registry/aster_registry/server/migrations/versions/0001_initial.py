"""registry schema: handles, codes, nonces, rate windows, services, endpoints, grants, recovery codes, audit"""

import sqlalchemy as sa
from alembic import op

revision = "r0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "registry_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False))
    op.create_table(
        "registry_handles",
        sa.Column("handle", sa.String(39), primary_key=True),
        sa.Column("pubkey", sa.String(64), nullable=False, unique=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("email_hash", sa.String(64), nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("announcements", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("display_name", sa.String(64)),
        sa.Column("bio", sa.String(500)),
        sa.Column("url", sa.String(2048)),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("verified_at", sa.BigInteger),
        sa.Column("verification_expires_at", sa.BigInteger, nullable=False),
        sa.Column("last_published_at", sa.BigInteger),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"))
    op.create_table(
        "registry_codes",
        sa.Column("handle", sa.String(39), sa.ForeignKey("registry_handles.handle", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("code_hash", sa.Text, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("resends", sa.Integer, nullable=False, server_default="0"),
        sa.Column("sent_at", sa.BigInteger, nullable=False))
    op.create_table(
        "registry_nonces",
        sa.Column("signer", sa.String(64), primary_key=True),
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("seen_at", sa.BigInteger, nullable=False, index=True))
    op.create_table(
        "registry_rate",
        sa.Column("bucket", sa.String(200), primary_key=True),
        sa.Column("window_end", sa.BigInteger, nullable=False, index=True),
        sa.Column("count", sa.Integer, nullable=False))
    op.create_table(
        "registry_services",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("handle", sa.String(39), sa.ForeignKey("registry_handles.handle", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("service_name", sa.String(128), nullable=False),
        sa.Column("name_lower", sa.String(128), nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("contract_id", sa.String(64), nullable=False),
        sa.Column("manifest_json", sa.Text, nullable=False),
        sa.Column("description", sa.String(280), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("replacement", sa.String(200)),
        sa.Column("visibility", sa.String(16), nullable=False),
        sa.Column("delegation_json", sa.Text, nullable=False),
        sa.Column("method_count", sa.Integer, nullable=False),
        sa.Column("token_id", sa.String(32), nullable=False),
        sa.Column("published_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("handle", "service_name", name="uq_registry_services_handle_name"))
    op.create_table(
        "registry_endpoints",
        sa.Column("service_id", sa.Integer, sa.ForeignKey("registry_services.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("node_id", sa.String(64), primary_key=True),
        sa.Column("relay", sa.String(512), nullable=False, server_default=""),
        sa.Column("direct_addrs", sa.Text, nullable=False, server_default="[]"),
        sa.Column("registered_at", sa.BigInteger, nullable=False),
        sa.Column("ttl", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False, index=True))
    op.create_table(
        "registry_grants",
        sa.Column("service_id", sa.Integer, sa.ForeignKey("registry_services.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("consumer_handle", sa.String(39), primary_key=True),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("scope_node_id", sa.String(64)),
        sa.Column("granted_at", sa.BigInteger, nullable=False))
    op.create_table(
        "registry_recovery_codes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("handle", sa.String(39), sa.ForeignKey("registry_handles.handle", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("used_at", sa.BigInteger))
    op.create_table(
        "registry_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("handle", sa.String(39)),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False, server_default=""))


def downgrade() -> None:
    for table in ("registry_audit", "registry_recovery_codes", "registry_grants", "registry_endpoints",
                  "registry_services", "registry_rate", "registry_nonces", "registry_codes",
                  "registry_handles", "registry_meta"):
        op.drop_table(table)
