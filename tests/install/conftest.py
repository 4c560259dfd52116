"""The distributions as users get them: wheels (and sdists) built the way a release builds them.

`python3 dev.py test` builds them into build/wheelhouse right before the suite and says so
in ASTER_WHEELHOUSE; run on its own, the suite builds its own copy with the same function,
once for all pytest-xdist workers.
"""

from __future__ import annotations

import os
import shutil
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


@pytest.fixture(scope="session")
def empty_venv(tmp_path_factory) -> Path:
    """A new venv holding pip alone, made once per run: :func:`fresh_venv` copies it (making
    one runs ensurepip, seconds of CPU each time)."""
    return made_once(tmp_path_factory, "empty-venv", lambda where: venv.EnvBuilder(with_pip=True).create(where))


def copy_venv(template: Path, where: Path) -> None:
    """``template`` copied to ``where`` as if made there: the interpreter links are kept and
    every script naming the template's folder (pip's, activate) names ``where`` instead."""
    shutil.copytree(template, where, symlinks=True)
    for script in (where / "bin").iterdir():
        if script.is_file() and not script.is_symlink():
            text = script.read_bytes()
            if str(template).encode() in text:
                script.write_bytes(text.replace(str(template).encode(), str(where).encode()))


def fresh_venv(where: Path, wheelhouse: Path, distributions: list[str], requirements: list[Path],
               template: Path) -> Path:
    """A new venv (a copy of ``template``, the ``empty_venv``) with only these distributions'
    wheels, their dependencies and ``requirements``.

    Dependencies among our distributions come from the wheelhouse, the rest from the index.

    Installed by the same function `dev.py` uses; returns the venv's bin folder.
    """
    copy_venv(template, where)
    python = where / "bin" / "python"
    dev.install_wheels(python, [wheel_of(wheelhouse, d) for d in distributions], requirements,
                       find_links=wheelhouse)
    return where / "bin"
