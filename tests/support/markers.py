"""Markers set from what a test uses, and the order the suite runs in (a pytest plugin).

- ``pg``: the test needs PostgreSQL: it uses ``pg_url`` or ``pg_cluster``, or it is the
  ``postgresql`` case of a parametrized fixture (``database_url``, or a module's own such
  as ``dmesh``; their ``sqlite`` cases are not marked).
- ``install``: the test builds wheels or installs into a venv of its own: everything under
  ``tests/install``, and whatever uses a fixture that does (``INSTALL_FIXTURES``).
- ``slow``: written on the test itself (``@pytest.mark.slow``) where it takes more than
  about ten seconds on a quiet machine; ``install`` tests count as slow too.
- ``alone``: written on a test whose assertion is a tight wall-clock bound that includes
  starting processes (a command's ``--timeout`` measured from outside, a cancelled call not
  delaying the next): it runs while no other test of the run does. Under pytest-xdist every
  other test holds a shared lock while it runs and an ``alone`` test takes it exclusively
  (writers first: a waiting ``alone`` test lets no new test start).

Order: modules with install tests first (their slow tests, the guided demo's venv, first of
all), then modules with slow tests, then the rest, whole modules at a time (a module-scoped
server is still started once per worker), so that under pytest-xdist the long ones start
first and the many short ones fill in around them instead of waiting at the end; the
``alone`` tests last, when the long ones are long done and waiting for the running tests
costs least.

``-m "not pg and not install"`` is the quick local loop; CI runs everything.
"""

from __future__ import annotations

import fcntl
import os
from typing import Iterator

import pytest

from tests.support.shared import run_temp_root

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


@pytest.hookimpl(tryfirst=True)  # before -m deselects by these marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    install_modules: set[str] = set()
    slow_modules: set[str] = set()
    for item in items:
        module = item.nodeid.split("::")[0]
        if needs_postgres(item):
            item.add_marker(pytest.mark.pg)
        if installs(item):
            item.add_marker(pytest.mark.install)
            install_modules.add(module)
        if item.get_closest_marker("slow"):
            slow_modules.add(module)

    def rank(item: pytest.Item) -> tuple[int, bool]:
        module = item.nodeid.split("::")[0]
        if item.get_closest_marker("alone"):
            return 3, False
        if module in install_modules:  # the slowest of them (the guided demo's venv) first of all
            return 0, item.get_closest_marker("slow") is None
        return (1 if module in slow_modules else 2), False

    items[:] = sorted(items, key=rank)  # stable: within each rank, collection order (module by module)


@pytest.fixture(autouse=True)
def _alone_or_beside_others(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[None]:
    """Under pytest-xdist: an ``alone`` test runs while no other test does (see above)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        yield
        return
    root = run_temp_root(tmp_path_factory)
    alone = request.node.get_closest_marker("alone") is not None
    with open(root / "alone.turnstile", "a") as turnstile, open(root / "alone.lock", "a") as lock:
        fcntl.flock(turnstile, fcntl.LOCK_EX)  # an alone test waiting here holds back new tests
        if not alone:
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            if alone:
                fcntl.flock(turnstile, fcntl.LOCK_UN)
