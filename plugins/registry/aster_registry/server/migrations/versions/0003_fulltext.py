"""ranked full-text discover: an FTS5 trigram index on SQLite, trigram GIN + a tsvector on PostgreSQL

Both keep discover's substring semantics (every query word of 3+ characters is found inside a
name, description or handle, as the released client expects) and make them indexable:

- SQLite: ``registry_services_fts``, an FTS5 table (trigram tokenizer, external content =
  ``registry_services``) holding the **public** services only, kept in sync by triggers in the
  writing transaction; discover ranks it with ``bm25``. When this Python's sqlite3 was built
  without FTS5 the index is not created and discover keeps scanning ``search_text`` (the store
  reports ``search: "scan"``).
- PostgreSQL: ``pg_trgm`` (a trusted extension) with a GIN index on ``search_text`` for the
  matching, and ``search_vector``, a stored generated tsvector (name A, description B,
  handle C) that discover ranks with ``ts_rank``.

Existing rows are backfilled: the FTS table from the public rows, the generated column by the
table rewrite PostgreSQL does when it is added.
"""

import sqlalchemy as sa
from alembic import op

revision = "r0003"
down_revision = "r0002"

FTS = "registry_services_fts"
COLUMNS = "name_lower, description, handle"


def _has_fts5(conn: sa.engine.Connection) -> bool:
    try:
        conn.exec_driver_sql("CREATE VIRTUAL TABLE temp.aster_fts5_probe USING fts5(x, tokenize='trigram')")
    except sa.exc.OperationalError:
        return False
    conn.exec_driver_sql("DROP TABLE temp.aster_fts5_probe")
    return True


def _sqlite_upgrade() -> None:
    if not _has_fts5(op.get_bind()):
        return
    op.execute(f"CREATE VIRTUAL TABLE {FTS} USING fts5({COLUMNS}, content='registry_services', "
               "content_rowid='id', tokenize='trigram')")
    add = f"INSERT INTO {FTS}(rowid, {COLUMNS}) SELECT new.id, new.name_lower, new.description, new.handle"
    drop = (f"INSERT INTO {FTS}({FTS}, rowid, {COLUMNS}) "
            "SELECT 'delete', old.id, old.name_lower, old.description, old.handle")
    op.execute(f"CREATE TRIGGER {FTS}_ai AFTER INSERT ON registry_services BEGIN "
               f"{add} WHERE new.visibility = 'public'; END")
    op.execute(f"CREATE TRIGGER {FTS}_ad AFTER DELETE ON registry_services BEGIN "
               f"{drop} WHERE old.visibility = 'public'; END")
    op.execute(f"CREATE TRIGGER {FTS}_au AFTER UPDATE OF name_lower, description, handle, visibility "
               f"ON registry_services BEGIN {drop} WHERE old.visibility = 'public'; "
               f"{add} WHERE new.visibility = 'public'; END")
    op.execute(f"INSERT INTO {FTS}(rowid, {COLUMNS}) SELECT id, {COLUMNS} FROM registry_services "
               "WHERE visibility = 'public'")


def _postgresql_upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE INDEX ix_registry_services_search_trgm ON registry_services "
               "USING gin (search_text gin_trgm_ops)")
    op.execute("ALTER TABLE registry_services ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
               "setweight(to_tsvector('simple', name_lower), 'A') || "
               "setweight(to_tsvector('simple', description), 'B') || "
               "setweight(to_tsvector('simple', handle), 'C')) STORED")


def upgrade() -> None:
    # the exact-name tier of a word query (without it SQLite picks the listing index)
    op.create_index("ix_registry_services_public_name", "registry_services", ["visibility", "name_lower"])
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_upgrade()
    else:
        _sqlite_upgrade()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE registry_services DROP COLUMN search_vector")
        op.execute("DROP INDEX ix_registry_services_search_trgm")
    else:
        for suffix in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS {FTS}_{suffix}")
        op.execute(f"DROP TABLE IF EXISTS {FTS}")
    op.drop_index("ix_registry_services_public_name", "registry_services")
