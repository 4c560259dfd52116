"""Alembic migrations of the authority (run by aster_server.storage.upgrade; version table alembic_version_authority)."""
