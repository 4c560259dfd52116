"""one verified handle per email address: a partial unique index on registry_handles.email_hash

A pending ``join`` no longer reserves its email address: any number of keys may have a handle
pending on one address (each gets a code mailed there), and the first to verify wins. This
index is what makes "first" hold across replicas: two verifications racing on one PostgreSQL
cannot both commit (the second is refused, and its retry is told the address is taken).
"""

import sqlalchemy as sa
from alembic import op

revision = "r0005"
down_revision = "r0004"

INDEX = "registry_handles_verified_email"


def upgrade() -> None:
    verified = sa.text("status = 'verified'")
    op.create_index(INDEX, "registry_handles", ["email_hash"], unique=True,
                    sqlite_where=verified, postgresql_where=verified)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="registry_handles")
