from tests.support.postgres import database_url, pg_cluster, pg_url  # noqa: F401
