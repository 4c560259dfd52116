"""deployments, plans, instances, credentials, grants, revocations, history, reviews"""
import sqlalchemy as sa
from alembic import op

revision = "auth0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "authority_deployments",
        sa.Column("deployment_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("version", sa.String(26), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("namespaces", sa.Text, nullable=False),
        sa.Column("compatibility", sa.String(16), nullable=False),
        sa.Column("review_mode", sa.String(16), nullable=False),
        sa.Column("roles", sa.Text, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("desired_manifests", sa.Text, nullable=False),
        sa.Column("desired_digest", sa.String(80), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "authority_plans",
        sa.Column("plan_id", sa.String(26), primary_key=True),
        sa.Column("deployment_id", sa.String(64), nullable=False),
        sa.Column("classification", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("base_version", sa.String(26), nullable=False),
        sa.Column("manifests", sa.Text, nullable=False),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("changes", sa.Text, nullable=False),
        sa.Column("warnings", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("decided_at", sa.BigInteger),
        sa.Column("decided_by", sa.Text),
        sa.Column("decision_reason", sa.Text),
    )
    op.create_index("authority_plans_by_deployment", "authority_plans", ["deployment_id", "plan_id"])
    op.create_table(
        "authority_instances",
        sa.Column("instance_id", sa.String(40), primary_key=True),
        sa.Column("deployment_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("endpoint_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("public_key", sa.String(64)),
        sa.Column("activation_key", sa.String(64)),
        sa.Column("metadata", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("renewed_at", sa.BigInteger),
    )
    op.create_index("authority_instances_by_deployment", "authority_instances", ["deployment_id", "instance_id"])
    op.create_index("authority_instances_by_endpoint", "authority_instances", ["endpoint_id"])
    op.create_table(
        "authority_credentials",
        sa.Column("deployment_id", sa.String(64), primary_key=True),
        sa.Column("endpoint_id", sa.String(64), primary_key=True),
        sa.Column("subject", sa.String(16), primary_key=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("credential", sa.Text, nullable=False),
        sa.Column("attributes", sa.Text, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("uploaded_at", sa.BigInteger, nullable=False),
        sa.Column("uploaded_by", sa.String(64), nullable=False),
    )
    op.create_index("authority_credentials_by_endpoint", "authority_credentials", ["endpoint_id"])
    op.create_table(
        "authority_grants",
        sa.Column("deployment_id", sa.String(64), primary_key=True),
        sa.Column("consumer", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(128), primary_key=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "authority_revocations",
        sa.Column("deployment_id", sa.String(64), primary_key=True),
        sa.Column("endpoint_id", sa.String(64), primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("revoked_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "authority_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("deployment_id", sa.String(64), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("authority_history_by_deployment", "authority_history", ["deployment_id", "id"])
    op.create_table(
        "authority_reviews",
        sa.Column("review_id", sa.String(26), primary_key=True),
        sa.Column("deployment_id", sa.String(64), nullable=False),
        sa.Column("instance_id", sa.String(40), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_at", sa.BigInteger, nullable=False),
        sa.Column("decided_at", sa.BigInteger),
        sa.Column("reason", sa.Text),
    )


def downgrade() -> None:
    for table in ("authority_reviews", "authority_history", "authority_revocations", "authority_grants",
                  "authority_credentials", "authority_instances", "authority_plans", "authority_deployments"):
        op.drop_table(table)
