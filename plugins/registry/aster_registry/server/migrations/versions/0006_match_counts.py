"""exact match counts of common word queries, kept by the store, guarded by a change counter

- ``registry_match_counts``: a word query's number of matches (``total`` of discover), kept
  once it is large enough that counting it again would dominate a discover. The store keeps
  each one exact in the transaction of every write that can change it (server/counts.py).
- ``registry_search_state``: one row. ``changes`` is bumped by a trigger on every insert,
  delete and update of a search column of ``registry_services``, whoever writes it (this
  server, an older replica during an upgrade, an operator's SQL); ``applied`` by the store for
  every such row change it has applied to the kept counts. The counts are used only while the
  two are equal: a change nobody applied makes them all stale, and the next write through the
  store drops them.
"""

import sqlalchemy as sa
from alembic import op

revision = "r0006"
down_revision = "r0005"

SEARCH_COLUMNS = "name_lower, description, handle, visibility, search_text"
BUMP = "UPDATE registry_search_state SET changes = changes + 1 WHERE id = 1"


def upgrade() -> None:
    op.create_table("registry_match_counts",
                    sa.Column("query", sa.String, primary_key=True),
                    sa.Column("total", sa.BigInteger, nullable=False),
                    sa.Column("counted_at", sa.BigInteger, nullable=False))
    op.create_index("ix_registry_match_counts_counted_at", "registry_match_counts", ["counted_at"])
    op.create_table("registry_search_state",
                    sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("changes", sa.BigInteger, nullable=False),
                    sa.Column("applied", sa.BigInteger, nullable=False))
    op.execute("INSERT INTO registry_search_state (id, changes, applied) VALUES (1, 0, 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE FUNCTION registry_search_changed() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$$ BEGIN {BUMP}; RETURN NULL; END $$")
        op.execute(f"CREATE TRIGGER registry_search_changed AFTER INSERT OR DELETE OR UPDATE OF {SEARCH_COLUMNS} "
                   "ON registry_services FOR EACH ROW EXECUTE FUNCTION registry_search_changed()")
    else:
        for suffix, event in (("ai", "INSERT"), ("ad", "DELETE"), ("au", f"UPDATE OF {SEARCH_COLUMNS}")):
            op.execute(f"CREATE TRIGGER registry_search_changed_{suffix} AFTER {event} ON registry_services "
                       f"BEGIN {BUMP}; END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER registry_search_changed ON registry_services")
        op.execute("DROP FUNCTION registry_search_changed()")
    else:
        for suffix in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS registry_search_changed_{suffix}")
    op.drop_table("registry_search_state")
    op.drop_index("ix_registry_match_counts_counted_at", "registry_match_counts")
    op.drop_table("registry_match_counts")
