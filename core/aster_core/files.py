"""Safe file writes shared by every family.

- :func:`atomic_write` writes a temp file in the same directory, fsyncs it and
  renames it over the target, so a reader never sees half a file.
- :func:`locked` serialises writers of one file with an advisory lock on a
  sibling ``.lock`` file, so two concurrent ``enroll`` runs lose nothing.
- :func:`update_toml` combines both: lock, read, let the caller mutate the
  document in place, write back. Tables and keys the caller does not touch are
  kept as they were.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from .errors import AsterError, NotFoundError, UsageError

T = TypeVar("T")


def _unwritable(path: Path, exc: OSError) -> AsterError:
    return AsterError(
        f"cannot write {path}: {exc.strerror or exc}",
        "check that the directory exists and that you may write to it",
    )


def atomic_write(path: str | os.PathLike, data: bytes | str, *, mode: int = 0o600,
                 exclusive: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically with permissions ``mode``.

    With ``exclusive`` the write fails (UsageError) when ``path`` already exists,
    and never replaces it even if another writer races us.
    """
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if exclusive and path.exists():
        raise UsageError(f"{path} already exists", "choose another path or pass --force to replace it")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    except OSError as exc:
        raise _unwritable(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            try:
                os.link(tmp, path)  # fails if the target appeared meanwhile
            except FileExistsError:
                raise UsageError(f"{path} already exists",
                                 "choose another path or pass --force to replace it") from None
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise _unwritable(path, exc) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


@contextlib.contextmanager
def locked(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive advisory lock for ``path`` (on ``path.lock``)."""
    import fcntl

    lock_path = Path(f"{os.fspath(path)}.lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise _unwritable(lock_path, exc) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def read_text(path: str | os.PathLike, what: str, create_hint: str = "check the path") -> str:
    """The text of a file a user named, or one clear error: missing (NotFoundError),
    a directory or not UTF-8 text (UsageError), unreadable (AsterError)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"{what} {path} does not exist", create_hint) from None
    except IsADirectoryError:
        raise UsageError(f"{what} {path} is a directory", "give the path of the file itself") from None
    except OSError as exc:
        raise AsterError(f"cannot read {path}: {exc.strerror or exc}", "check the file's permissions") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{what} {path} is not a text file", create_hint) from None


def load_toml(path: str | os.PathLike, *, missing_ok: bool = True) -> dict[str, Any]:
    """Read a TOML file; a corrupt file is a UsageError naming the line."""
    import tomllib

    try:
        text = read_text(path, "TOML file")
    except NotFoundError:
        if missing_ok:
            return {}
        raise
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path} is not valid TOML ({exc})",
                         "fix or move the file aside; nothing was changed") from None


def dump_toml(doc: dict[str, Any]) -> str:
    import tomli_w

    return tomli_w.dumps(doc)


def update_toml(path: str | os.PathLike, mutate: Callable[[dict[str, Any]], T], *,
                mode: int = 0o600) -> T:
    """Lock ``path``, load it, call ``mutate(doc)``, write it back atomically.

    ``mutate`` changes ``doc`` in place and returns a result for the caller. If
    it raises, nothing is written.
    """
    path = Path(path)
    with locked(path):
        doc = load_toml(path)
        result = mutate(doc)
        atomic_write(path, dump_toml(doc), mode=mode)
    return result
