"""notes, referencing accounts"""
import sqlalchemy as sa
from alembic import op

revision = "a0002"
down_revision = "a0001"


def upgrade() -> None:
    op.create_table("alpha_notes",
                    sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("account_id", sa.Integer, sa.ForeignKey("alpha_accounts.id"), nullable=False),
                    sa.Column("text", sa.Text, nullable=False))


def downgrade() -> None:
    op.drop_table("alpha_notes")
