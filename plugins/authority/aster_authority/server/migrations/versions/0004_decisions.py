"""decision records (a hash chain per deployment, and the authority-wide chain "@authority") and the
admins and reviewers the authority admitted"""

import sqlalchemy as sa
from alembic import op

revision = "auth0004"
down_revision = "auth0003"


def upgrade() -> None:
    op.create_table(
        "authority_records",
        sa.Column("deployment_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("signer", sa.String(64), nullable=False),
        sa.Column("decided_at", sa.BigInteger, nullable=False),
        sa.Column("stored_at", sa.BigInteger, nullable=False),
        sa.Column("record", sa.Text, nullable=False),
    )
    op.create_table(
        "authority_signers",
        sa.Column("endpoint_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("roles", sa.Text, nullable=False),
        sa.Column("first_seen", sa.BigInteger, nullable=False),
        sa.Column("last_seen", sa.BigInteger, nullable=False),
        sa.Column("credential_expires_at", sa.BigInteger),
        sa.Column("revoked_at", sa.BigInteger),
        sa.Column("revoked_by", sa.String(64)),
        sa.Column("reason", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("authority_signers")
    op.drop_table("authority_records")
