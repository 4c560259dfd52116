"""items table of a second server sharing the database"""
import sqlalchemy as sa
from alembic import op

revision = "b0001"
down_revision = None


def upgrade() -> None:
    op.create_table("beta_items", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("beta_items")
