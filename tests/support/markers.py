"""Markers set from what a test uses, and the order the suite runs in (a pytest plugin).

- ``pg``: the test needs PostgreSQL: it uses ``pg_url`` or ``pg_cluster``, or it is the
  ``postgresql`` case of a parametrized fixture (``database_url``, or a module's own such
  as ``dmesh``; their ``sqlite`` cases are not marked).
- ``install``: the test builds wheels or installs into a venv of its own: everything under
  ``tests/install``, and whatever uses a fixture that does (``INSTALL_FIXTURES``).
- ``slow``: written on the test itself (``@pytest.mark.slow``) where it takes more than
  about ten seconds on a quiet machine; ``install`` tests count as slow too.

Slow and install tests are moved to the front, whole modules at a time (a module-scoped
server is still started once per worker), so that under pytest-xdist the long ones start
first and the many short ones fill in around them instead of waiting at the end.

``-m "not pg and not install"`` is the quick local loop; CI runs everything.
"""

from __future__ import annotations

import pytest

PG_FIXTURES = {"pg_url", "pg_cluster"}
#: fixtures that build wheels or venvs, or pip-install something, before the test can run
INSTALL_FIXTURES = {"wheelhouse", "bad_plugins", "old_aster"}


def needs_postgres(item: pytest.Item) -> bool:
    names = set(getattr(item, "fixturenames", ()))
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else {}
    return bool(names & PG_FIXTURES) or any(value == "postgresql" for value in params.values())


def installs(item: pytest.Item) -> bool:
    return "tests/install/" in item.nodeid or bool(set(getattr(item, "fixturenames", ())) & INSTALL_FIXTURES)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    long_modules: set[str] = set()
    for item in items:
        if needs_postgres(item):
            item.add_marker(pytest.mark.pg)
        if installs(item):
            item.add_marker(pytest.mark.install)
        if item.get_closest_marker("slow") or item.get_closest_marker("install"):
            long_modules.add(item.nodeid.split("::")[0])
    # sorted() is stable: within each half, collection order (module by module) is kept
    items[:] = sorted(items, key=lambda item: item.nodeid.split("::")[0] not in long_modules)
