#!/usr/bin/env python3
"""Set up this checkout and run the demo or the tests: needs nothing but python3.

    python3 dev.py demo     # venv + every distribution, then the guided end-to-end demo
    python3 dev.py test     # venv + every distribution + test deps, then the whole suite
    python3 dev.py setup    # only the set-up step

Extra arguments after `test` go to pytest (e.g. `python3 dev.py test tests/core -x`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"


def run(*cmd: str | os.PathLike, **kw) -> None:
    print("+ " + " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def distributions() -> list[Path]:
    """core first, then every family folder, the example plugin, and the meta-package."""
    families = sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))
    return [ROOT / "core", *families, ROOT / "examples" / "plugin-hello", ROOT]


def setup(with_tests: bool) -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"Python 3.11 or newer is needed (this is {sys.version.split()[0]})")
    if not PY.exists():
        run(sys.executable, "-m", "venv", VENV)
    pip = [PY, "-m", "pip", "--disable-pip-version-check", "-q"]
    run(*pip, "install", "--upgrade", "pip", "setuptools>=70.1", "wheel")
    editable: list[str | Path] = []
    for dist in distributions():
        editable += ["-e", dist]
    extra = ["-r", ROOT / "requirements-test.txt"] if with_tests else []
    # compat mode puts each source folder on sys.path (a .pth line) instead of an
    # import hook: nothing extra runs at interpreter start-up.
    run(*pip, "install", "--config-settings", "editable_mode=compat", *editable, *extra)
    # Editable installs leave no .pyc files; compile them once like a wheel install does.
    run(PY, "-m", "compileall", "-q", "-q", ROOT / "core", ROOT / "plugins", ROOT / "examples")
    if with_tests:
        setup_test_tools()


def setup_test_tools() -> None:
    """Non-Python tools some tests drive: TypeScript (npm) and tmux (Debian)."""
    for package_json in sorted(ROOT.glob("tests/*/ts/package.json")):
        if shutil.which("npm"):
            lock = package_json.with_name("package-lock.json")
            run("npm", "ci" if lock.exists() else "install", "--no-audit", "--no-fund", "--silent",
                cwd=package_json.parent)
    if not shutil.which("tmux") and shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "tmux"], check=False,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def main(argv: list[str]) -> int:
    action = argv[0] if argv else "help"
    if action not in ("demo", "test", "setup"):
        print(__doc__)
        return 2
    setup(with_tests=action in ("test", "setup"))
    env = {**os.environ, "ASTER_RELAY_MODE": "disabled"}
    if action == "demo":
        return subprocess.run([str(PY), str(ROOT / "demo" / "demo.py"), *argv[1:]], env=env).returncode
    if action == "test":
        return subprocess.run([str(PY), "-m", "pytest", *(argv[1:] or ["tests"])], cwd=ROOT, env=env).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
