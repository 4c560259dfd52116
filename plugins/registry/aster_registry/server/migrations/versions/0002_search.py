"""discover at scale: a lowercased search column and an index for the newest-first listing"""

import sqlalchemy as sa
from alembic import op

revision = "r0002"
down_revision = "r0001"


def upgrade() -> None:
    op.add_column("registry_services", sa.Column("search_text", sa.Text, nullable=False, server_default=""))
    op.execute("UPDATE registry_services SET search_text = lower(service_name || ' ' || description || ' ' || handle)")
    op.create_index("ix_registry_services_listing", "registry_services", ["visibility", "published_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_registry_services_listing", "registry_services")
    with op.batch_alter_table("registry_services") as batch:
        batch.drop_column("search_text")
