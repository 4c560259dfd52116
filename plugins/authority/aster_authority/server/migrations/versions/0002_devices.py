"""devices: activation and revocation times, who decided a review, single-use activation challenges"""

import sqlalchemy as sa
from alembic import op

revision = "auth0002"
down_revision = "auth0001"


def upgrade() -> None:
    op.add_column("authority_instances", sa.Column("activated_at", sa.BigInteger))
    op.add_column("authority_instances", sa.Column("revoked_at", sa.BigInteger))
    op.add_column("authority_reviews", sa.Column("decided_by", sa.Text))
    op.create_index("authority_reviews_by_deployment", "authority_reviews", ["deployment_id", "review_id"])
    op.create_index("authority_reviews_by_instance", "authority_reviews", ["instance_id"])
    op.create_table(
        "authority_challenges",
        sa.Column("challenge", sa.String(64), primary_key=True),
        sa.Column("deployment_id", sa.String(64), nullable=False),
        sa.Column("endpoint_id", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_index("authority_challenges_by_expiry", "authority_challenges", ["expires_at"])


def downgrade() -> None:
    op.drop_table("authority_challenges")
    op.drop_index("authority_reviews_by_instance", "authority_reviews")
    op.drop_index("authority_reviews_by_deployment", "authority_reviews")
    with op.batch_alter_table("authority_reviews") as batch:
        batch.drop_column("decided_by")
    with op.batch_alter_table("authority_instances") as batch:
        batch.drop_column("revoked_at")
        batch.drop_column("activated_at")
