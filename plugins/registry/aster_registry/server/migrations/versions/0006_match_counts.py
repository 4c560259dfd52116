"""exact match counts of common word queries, kept by the store, guarded by a change counter

- ``registry_match_counts``: a word query's number of matches (``total`` of discover), kept
  once counting it took long. The store keeps each one exact in the transaction of every
  write that can change it (server/counts.py).
- ``registry_search_state``: one row. ``changes`` counts, by triggers, every row of
  ``registry_services`` inserted, deleted, or updated with a searched column changed, whoever
  writes it (this server, an older replica during an upgrade, an operator's SQL); ``applied``
  counts the changes the store has applied to the kept counts. The counts are used only while
  the two are equal: a change nobody applied makes them all stale, and the next write through
  the store drops them.
"""

import sqlalchemy as sa
from alembic import op

revision = "r0006"
down_revision = "r0005"

SEARCH_COLUMNS = ("name_lower", "description", "handle", "visibility", "search_text")
STATE = "registry_search_state"

#: PostgreSQL: one trigger per statement, counting the rows it changed from its transition
#: tables (a trigger per row would update the state row once per row: a bulk insert of a
#: million rows in one transaction would leave a million versions of it to walk)
_PG_CHANGED = {
    "INSERT": ("NEW TABLE AS added", "SELECT count(*) FROM added"),
    "DELETE": ("OLD TABLE AS removed", "SELECT count(*) FROM removed"),
    "UPDATE": ("OLD TABLE AS old_rows NEW TABLE AS new_rows",
               "SELECT count(*) FROM old_rows JOIN new_rows USING (id) WHERE "
               f"({', '.join('old_rows.' + c for c in SEARCH_COLUMNS)}) IS DISTINCT FROM "
               f"({', '.join('new_rows.' + c for c in SEARCH_COLUMNS)})"),
}


def _postgresql_upgrade() -> None:
    for event, (referencing, count) in _PG_CHANGED.items():
        name = f"registry_search_changed_{event.lower()}"
        op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ DECLARE n bigint; BEGIN "
                   f"n := ({count}); IF n > 0 THEN UPDATE {STATE} SET changes = changes + n WHERE id = 1; END IF; "
                   "RETURN NULL; END $$")
        op.execute(f"CREATE TRIGGER {name} AFTER {event} ON registry_services REFERENCING {referencing} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()")


def _sqlite_upgrade() -> None:
    bump = f"UPDATE {STATE} SET changes = changes + 1 WHERE id = 1;"
    changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in SEARCH_COLUMNS)
    op.execute(f"CREATE TRIGGER registry_search_changed_insert AFTER INSERT ON registry_services BEGIN {bump} END")
    op.execute(f"CREATE TRIGGER registry_search_changed_delete AFTER DELETE ON registry_services BEGIN {bump} END")
    op.execute(f"CREATE TRIGGER registry_search_changed_update AFTER UPDATE ON registry_services "
               f"WHEN {changed} BEGIN {bump} END")


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
        _postgresql_upgrade()
    else:
        _sqlite_upgrade()


def downgrade() -> None:
    for event in _PG_CHANGED:
        name = f"registry_search_changed_{event.lower()}"
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON registry_services" if op.get_bind().dialect.name == "postgresql"
                   else f"DROP TRIGGER IF EXISTS {name}")
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_table(STATE)
    op.drop_index("ix_registry_match_counts_counted_at", "registry_match_counts")
    op.drop_table("registry_match_counts")
