"""removed deployments kept (``authority_removed``: what ``svc|dev ID show``, ``list --removed``,
``restore`` and ``purge`` read) and plans' manifests stored once per digest (``authority_contracts``,
so ``--purge-unused-contracts`` can drop those no deployment uses)"""

import sqlalchemy as sa
from alembic import op

revision = "auth0005"
down_revision = "auth0004"


def upgrade() -> None:
    op.create_table(
        "authority_removed",
        sa.Column("deployment_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("deployment", sa.Text, nullable=False),
        sa.Column("removed_at", sa.BigInteger, nullable=False),
        sa.Column("removed_by", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_table(
        "authority_contracts",
        sa.Column("digest", sa.String(80), primary_key=True),
        sa.Column("manifests", sa.Text, nullable=False),
        sa.Column("stored_at", sa.BigInteger, nullable=False),
    )
    # every plan's manifests move to the store (one row per digest: the digest is of their canonical
    # JSON, which is what the column holds), then the plans refer to them by digest alone
    op.execute("INSERT INTO authority_contracts (digest, manifests, stored_at) SELECT digest, MIN(manifests), "
               "MIN(created_at) FROM authority_plans WHERE manifests <> '' GROUP BY digest")
    op.execute("UPDATE authority_plans SET manifests = ''")


def downgrade() -> None:
    op.execute("UPDATE authority_plans SET manifests = COALESCE((SELECT c.manifests FROM authority_contracts c "
               "WHERE c.digest = authority_plans.digest), '[]')")
    op.drop_table("authority_contracts")
    op.drop_table("authority_removed")
