#!/usr/bin/env python3
"""Set up this checkout and run the demo or the tests: needs nothing but python3 (3.11+).

    python3 dev.py demo               # wheels of every distribution + what the demo needs, then the demo
    python3 dev.py test [PYTEST ARGS] # wheels + test tools, then the whole suite (what CI runs) on
                                      # several pytest-xdist workers (ASTER_TEST_WORKERS, or -n N)
    python3 dev.py setup [--editable] # set-up only, with test tools; --editable for local development
    python3 dev.py dist               # sdists and wheels of every distribution into dist/, checked

`demo` and `test` install what users install: each distribution is built as an sdist, its
wheel is built from that sdist, and the wheels go into .venv non-editable (the wheelhouse is
build/wheelhouse). Add --fresh to any action to rebuild .venv from nothing.

Exit codes: those of the demo or pytest; 1 when a set-up step fails (pip, the package
index, a build); 2 for bad usage, a Python older than 3.11, or a stale .venv.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"
WHEELHOUSE = ROOT / "build" / "wheelhouse"
DIST = ROOT / "dist"
REQUIREMENTS = ROOT / "requirements"
# Written last by a set-up that finished: a .venv without it is ours and half made.
STAMP = VENV / ".aster-dev-setup.json"
MIN_PYTHON = (3, 11)


class SetupError(Exception):
    """A set-up step failed: ``str()`` is the one-line reason, ``hint`` what to do, ``code`` the exit."""

    def __init__(self, message: str, hint: str, code: int = 1) -> None:
        super().__init__(message)
        self.hint = hint
        self.code = code


def run(*cmd: str | os.PathLike, **kw) -> None:
    print("+ " + " ".join(str(c) for c in cmd), flush=True)
    try:
        subprocess.run([str(c) for c in cmd], check=True, **kw)
    except subprocess.CalledProcessError as exc:
        raise SetupError(f"`{Path(str(cmd[0])).name} {' '.join(str(c) for c in cmd[1:4])} ...` "
                         f"failed with exit code {exc.returncode}",
                         "read its output above, fix the cause, then run the same command again") from None


def check_python(version: tuple[int, ...] = tuple(sys.version_info)) -> None:
    if tuple(version[:2]) < MIN_PYTHON:
        found = ".".join(str(v) for v in version[:3])
        raise SetupError(f"Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer is needed (this is {found})",
                         "run dev.py with a newer interpreter, e.g. python3.11 dev.py ...", code=2)


def distributions() -> list[Path]:
    """core first, shared libraries, every family folder, the example plugin, the meta-package (the root)."""
    libraries = sorted(p.parent for p in (ROOT / "lib").glob("*/pyproject.toml"))
    families = sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))
    return [ROOT / "core", *libraries, *families, ROOT / "examples" / "plugin-hello", ROOT]


# ---------------------------------------------------------------------------- the venv


def venv_problem(venv: Path = VENV) -> str | None:
    """Why an existing venv cannot be used as it is (None when it can)."""
    python = venv / "bin" / "python"
    probe = "import sys, pip; print(sys.version_info[0], sys.version_info[1])"
    try:
        out = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=60)
    except OSError:
        return f"its interpreter {python} does not run (the Python it was made from is gone)"
    if out.returncode != 0:
        return "its interpreter has no working pip"
    version = tuple(int(v) for v in out.stdout.split())
    if version < MIN_PYTHON:
        return f"it runs Python {version[0]}.{version[1]}, older than {MIN_PYTHON[0]}.{MIN_PYTHON[1]}"
    # A venv moved or copied from elsewhere still runs, but its scripts start the old interpreter.
    pip_script = venv / "bin" / "pip"
    shebang = pip_script.read_text(errors="replace").partition("\n")[0] if pip_script.exists() else ""
    if shebang.startswith("#!") and Path(shebang[2:].strip()).parent != python.parent:
        return f"it was made in another folder (its scripts run {shebang[2:].strip()})"
    return None


def prepare_venv(fresh: bool) -> None:
    """Create .venv, repair a half-made one, refuse a stale one (unless --fresh)."""
    if VENV.exists() and not fresh:
        problem = venv_problem()
        if problem is None:
            return
        if STAMP.exists():
            raise SetupError(f".venv is stale: {problem}",
                             "run the same command with --fresh to rebuild it (or remove .venv)", code=2)
        print(f"dev.py: .venv is left from a set-up that did not finish ({problem}); rebuilding it",
              file=sys.stderr)
        fresh = True
    if fresh and VENV.exists():
        shutil.rmtree(VENV)
    run(sys.executable, "-m", "venv", VENV)


def pip_index_url() -> str:
    """The index pip will use: PIP_INDEX_URL, else pip's configuration, else PyPI."""
    if os.environ.get("PIP_INDEX_URL"):
        return os.environ["PIP_INDEX_URL"]
    listed = subprocess.run([str(PY), "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
    for line in listed.splitlines():
        key, _, value = line.partition("=")
        if key.endswith(".index-url") and not key.endswith("extra-index-url"):
            return value.strip("'\"")
    return "https://pypi.org/simple"


def check_index() -> None:
    """Fail fast, in one line, when the package index cannot be reached (pip would retry for minutes)."""
    if os.environ.get("PIP_NO_INDEX", "").lower() in ("1", "true", "yes", "on"):
        return
    url = pip_index_url().rstrip("/") + "/pip/"
    try:
        with urllib.request.urlopen(url, timeout=15):
            return
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SetupError(f"the package index at {url.rsplit('/pip/', 1)[0]} cannot be reached ({reason})",
                         "connect this machine to the index (or set PIP_INDEX_URL to a mirror); offline, "
                         "set PIP_NO_INDEX=1 and PIP_FIND_LINKS to a folder of the needed wheels") from None


def pip(*args: str | os.PathLike) -> None:
    run(PY, "-m", "pip", "--disable-pip-version-check", "-q", *args)


# ---------------------------------------------------------------------------- building


def build_distributions(out: Path, python: Path = PY) -> list[Path]:
    """Build every distribution's sdist, then its wheel from that sdist, into ``out``.

    Building the wheel from the sdist is what a release does, and it proves the sdist is
    complete; no build/ folder is left in a source tree to leak stale modules into a wheel.
    The builds run side by side (each is a few setuptools processes). Returns the wheels,
    then the sdists.
    """
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    folders = distributions()
    print(f"+ {python} -m build --no-isolation --outdir {out} <each of {len(folders)} distributions>", flush=True)

    def build(folder: Path) -> subprocess.CompletedProcess:
        return subprocess.run([str(python), "-m", "build", "--quiet", "--no-isolation", "--outdir", str(out),
                               str(folder)], capture_output=True, text=True)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for folder, result in zip(folders, pool.map(build, folders)):
            if result.returncode != 0:
                sys.stderr.write(result.stdout + result.stderr)
                raise SetupError(f"building {'the meta-package' if folder == ROOT else folder.relative_to(ROOT)} failed",
                                 "read the build output above, fix the distribution, then run the same "
                                 "command again")
    return sorted(out.glob("*.whl")) + sorted(out.glob("*.tar.gz"))


def install_wheels(python: Path, wheels: list[Path], requirements: list[Path],
                   find_links: Path | None = None) -> None:
    """Install ``wheels`` (non-editable) and their dependencies, plus ``requirements``, into a venv.

    Our wheels keep one version while their code changes, so they are reinstalled first without
    dependencies (replacing any editable install); the second step brings every dependency,
    from ``find_links`` (a wheelhouse) first when given, then from the package index.
    """
    base = [str(python), "-m", "pip", "--disable-pip-version-check", "-q", "install"]
    run(*base, "--force-reinstall", "--no-deps", *wheels)
    links = ["--find-links", find_links] if find_links else []
    run(*base, *links, *wheels, *(a for r in requirements for a in ("-r", r)))


def setup(action: str, editable: bool, fresh: bool) -> None:
    check_python()
    prepare_venv(fresh)
    STAMP.unlink(missing_ok=True)
    check_index()
    pip("install", "--upgrade", "pip", "-r", REQUIREMENTS / "build.txt")
    extras = [REQUIREMENTS / ("demo.txt" if action == "demo" else "test.txt")]
    if editable:
        pairs = [a for d in distributions() for a in ("-e", d)]
        # compat mode puts each source folder on sys.path (a .pth line) instead of an import
        # hook: nothing extra runs at interpreter start-up.
        pip("install", "--config-settings", "editable_mode=compat", *pairs, *(a for r in extras for a in ("-r", r)))
        run(PY, "-m", "compileall", "-q", "-q", ROOT / "core", ROOT / "plugins", ROOT / "examples")
    else:
        install_wheels(PY, [w for w in build_distributions(WHEELHOUSE) if w.suffix == ".whl"], extras)
    if action in ("test", "setup"):
        setup_test_tools()
    STAMP.write_text(json.dumps({"mode": "editable" if editable else "wheels", "for": action,
                                 "python": sys.version.split()[0]}) + "\n")


def setup_test_tools() -> None:
    """Non-Python tools some tests drive: TypeScript (npm) and Debian packages (DEBIAN_TEST_TOOLS)."""
    for package_json in sorted(ROOT.glob("tests/*/ts/package.json")):
        if shutil.which("npm"):
            lock = package_json.with_name("package-lock.json")
            run("npm", "ci" if lock.exists() else "install", "--no-audit", "--no-fund", "--silent",
                cwd=package_json.parent)
    missing = [package for package, present in DEBIAN_TEST_TOOLS.items() if not present()]
    if missing and shutil.which("apt-get") and os.geteuid() == 0:
        apt = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]
        if subprocess.run(install, check=False, env=apt).returncode != 0:
            # a fresh machine may have no package lists yet
            subprocess.run(["apt-get", "update", "-q"], check=False, env=apt)
            subprocess.run(install, check=False, env=apt)


# Debian packages the tests drive, and how to tell each is there.
DEBIAN_TEST_TOOLS = {
    "tmux": lambda: shutil.which("tmux") is not None,            # the shell's terminal tests
    "fish": lambda: shutil.which("fish") is not None,            # fish completion
    "postgresql": lambda: Path("/usr/lib/postgresql/15/bin/initdb").exists(),  # the servers' PostgreSQL tests
}


def dist() -> None:
    """What a release would upload: every sdist and wheel in dist/, checked by twine."""
    check_python()
    prepare_venv(fresh=False)
    check_index()
    pip("install", "--upgrade", "pip", "-r", REQUIREMENTS / "build.txt", "-r", REQUIREMENTS / "release.txt")
    built = build_distributions(DIST)
    run(PY, "-m", "twine", "check", "--strict", *built)
    meta = next(w for w in built if w.name.startswith("aster-") and w.suffix == ".whl")
    # the wheel by its file: the name `aster` on the public index is another project's
    print(f"\n{len(built)} files in {DIST.relative_to(ROOT)}/. Install from them with:\n"
          f"  pip install --find-links {DIST} {meta}          # or {DIST}/aster_core-*.whl ...")


# ---------------------------------------------------------------------------- main

# pytest-xdist workers for `dev.py test`. The tests mostly wait on subprocesses and servers,
# so more workers than cores pay off; measured on 2 cores (CONTRIBUTING.md has the figures).
TEST_WORKERS = 4


def pytest_args(rest: list[str]) -> list[str]:
    """The suite (or what the caller named) on TEST_WORKERS workers, unless the caller chose
    workers (-n), a distribution mode (--dist) or turned xdist off (-p no:xdist)."""
    args = rest or ["tests"]
    chose = any(a.startswith(("-n", "--numprocesses", "--dist")) or a == "no:xdist" for a in args)
    workers = os.environ.get("ASTER_TEST_WORKERS", str(TEST_WORKERS))
    return args if chose else ["-n", workers, "--dist", "loadgroup", *args]



def main(argv: list[str]) -> int:
    action = argv[0] if argv else "help"
    rest = argv[1:]
    fresh = "--fresh" in rest
    editable = "--editable" in rest
    rest = [a for a in rest if a not in ("--fresh", "--editable")]
    if action not in ("demo", "test", "setup", "dist") or (editable and action != "setup"):
        print(__doc__)
        return 2
    try:
        if action == "dist":
            dist()
            return 0
        setup(action, editable=editable, fresh=fresh)
        env = {**os.environ, "ASTER_RELAY_MODE": "disabled"}
        if action == "demo":
            return subprocess.run([str(PY), str(ROOT / "demo" / "demo.py"), *rest], env=env).returncode
        if action == "test":
            env["ASTER_WHEELHOUSE"] = str(WHEELHOUSE)
            return subprocess.run([str(PY), "-m", "pytest", *pytest_args(rest)], cwd=ROOT, env=env).returncode
        return 0
    except SetupError as exc:
        print(f"Error: {exc}. Hint: {exc.hint}.", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("Error: interrupted. Hint: run the same command again; it repairs .venv.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
