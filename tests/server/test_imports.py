"""The servers' dependencies stay out of every client path: `aster --help` imports none of them."""

from __future__ import annotations

from tests.core.test_host import imported_modules

SERVER_ONLY = ("sqlalchemy", "alembic", "psycopg", "aiosmtpd", "argon2", "aster_server.storage",
               "aster_server.request", "aster_server.lifecycle", "aster_registry.server.store",
               "aster_registry.server.service", "aster_registry.server.mail", "aster_registry.server.app")


def _hits(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in SERVER_ONLY))


def test_help_imports_no_server_dependency():
    assert _hits(imported_modules("--help")) == []


def test_registry_help_imports_no_storage():
    assert _hits(imported_modules("registry", "--help")) == []
