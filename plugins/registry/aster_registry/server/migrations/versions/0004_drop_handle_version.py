"""drop registry_handles.version: written on every change of a handle and never read

Writers to a handle take turns on its row lock (aster-server's one concurrency approach), so a
version to compare against is not needed. SQLite drops a column in place from 3.35 on; an older
SQLite keeps it (it has a default, and nothing reads or writes it any more) rather than copy
the table, which would fire the ON DELETE CASCADE of the tables pointing at it.
"""

import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "r0004"
down_revision = "r0003"


def _in_place() -> bool:
    return op.get_bind().dialect.name == "postgresql" or sqlite3.sqlite_version_info >= (3, 35, 0)


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("registry_handles")}
    if "version" in columns and _in_place():
        op.drop_column("registry_handles", "version")


def downgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("registry_handles")}
    if "version" not in columns:
        op.add_column("registry_handles", sa.Column("version", sa.Integer, nullable=False, server_default="1"))
