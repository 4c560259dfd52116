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
  (writers first: a waiting ``alone`` test lets no new test start). They run at the very
  start, before the long tests begin.

Then slow and install tests are moved to the front, whole modules at a time (a
module-scoped server is still started once per worker), so that under pytest-xdist the long
ones start first and the many short ones fill in around them instead of waiting at the end.

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
    # sorted() is stable: within each part, collection order (module by module) is kept
    items[:] = sorted(items, key=lambda item: (item.get_closest_marker("alone") is None,
                                               item.nodeid.split("::")[0] not in long_modules))


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
