"""deployments: no revision column (writers lock the deployment's row instead of compare-and-swap on a counter)"""

import sqlalchemy as sa
from alembic import op

revision = "auth0003"
down_revision = "auth0002"


def upgrade() -> None:
    with op.batch_alter_table("authority_deployments") as batch:
        batch.drop_column("revision")


def downgrade() -> None:
    with op.batch_alter_table("authority_deployments") as batch:
        batch.add_column(sa.Column("revision", sa.Integer, nullable=False, server_default="1"))
