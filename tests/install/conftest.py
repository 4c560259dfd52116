"""The distributions as users get them: wheels (and sdists) built the way a release builds them.

`python3 dev.py test` builds them into build/wheelhouse right before the suite and says so
in ASTER_WHEELHOUSE; run on its own, the suite builds its own copy with the same function,
once for all pytest-xdist workers.
"""

from __future__ import annotations

import os
import sys
import venv
from pathlib import Path

import pytest

import dev
from tests.support.shared import made_once


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Path:
    given = os.environ.get("ASTER_WHEELHOUSE")
    if given and any(Path(given).glob("*.whl")):
        return Path(given)
    return made_once(tmp_path_factory, "wheelhouse",
                     lambda out: dev.build_distributions(out, python=Path(sys.executable)))


def wheel_of(wheelhouse: Path, distribution: str) -> Path:
    """The wheel file of one distribution (by its project name, e.g. ``aster-core``)."""
    prefix = distribution.replace("-", "_") + "-"
    found = [w for w in wheelhouse.glob("*.whl") if w.name.startswith(prefix)]
    assert len(found) == 1, (distribution, sorted(p.name for p in wheelhouse.iterdir()))
    return found[0]


def fresh_venv(where: Path, wheelhouse: Path, distributions: list[str], requirements: list[Path]) -> Path:
    """A new venv with only these distributions' wheels, their dependencies and ``requirements``.

    Dependencies among our distributions come from the wheelhouse, the rest from the index.

    Installed by the same function `dev.py` uses; returns the venv's bin folder.
    """
    venv.EnvBuilder(with_pip=True, clear=True).create(where)
    python = where / "bin" / "python"
    dev.install_wheels(python, [wheel_of(wheelhouse, d) for d in distributions], requirements,
                       find_links=wheelhouse)
    return where / "bin"
