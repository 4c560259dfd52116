"""Safe file reads and writes shared by every family.

- :func:`atomic_write` writes a temp file (mode 0600 from birth) in the target's
  directory, fsyncs it and renames it over the target, so a reader never sees
  half a file. A symlinked target is followed: the file it points to is
  replaced, the link stays. Temp files of ours left by a killed writer are
  removed on the next write.
- :func:`locked` serialises writers of one file with an advisory lock on a
  sibling ``<file>.lock`` that exists only while it is held (nothing is left
  beside the file afterwards); a symlink in its place is refused.
- :func:`update_toml` combines both: lock, read, let the caller mutate the
  document in place, write back. The document is edited in place (tomlkit), so
  comments, order and tables the caller does not touch are kept as they were.
- :func:`read_text`, :func:`load_json` and :func:`load_toml` read a file a user
  named: every problem (missing, unreadable, not UTF-8, malformed, nested too
  deeply, numbers too long) is one error naming the file. JSON goes through
  :func:`aster_core.jsonlimits.loads_limited` (the depth and size limits).
- :func:`check_writable_target` and :func:`check_new_file` check an output path
  before any work is done (a file that exists is never replaced without
  ``--force``).
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from .errors import AsterError, NotFoundError, UsageError

T = TypeVar("T")

_EXISTS_HINT = "choose another path, or pass --force to replace it"
_TMP_SUFFIX = ".tmp"


def _unwritable(path: Path, exc: OSError) -> AsterError:
    return AsterError(
        f"cannot write {path}: {exc.strerror or exc}",
        "check that the directory exists and that you may write to it",
    )


def write_target(path: str | os.PathLike) -> Path:
    """The file a write of ``path`` really replaces: a symlink's final target
    (so the link survives), else ``path`` itself."""
    path = Path(path)
    if path.is_symlink():
        return Path(os.path.realpath(path))
    return path


def _tmp_prefix(target: Path) -> str:
    return f".{target.name}."


def _remove_stale_temps(target: Path) -> None:
    """Remove temp files of our own that a killed writer left beside ``target``.

    Called with the target's lock held, so no live writer of ours is between
    creating its temp file and renaming it.
    """
    prefix = _tmp_prefix(target)
    uid = os.getuid() if hasattr(os, "getuid") else None
    try:
        names = os.listdir(target.parent)
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(_TMP_SUFFIX)):
            continue
        middle = name[len(prefix):-len(_TMP_SUFFIX)]
        if not middle or "." in middle:  # mkstemp's random part has no dots
            continue
        stale = target.parent / name
        with contextlib.suppress(OSError):
            info = os.lstat(stale)
            if uid is None or info.st_uid == uid:
                os.unlink(stale)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: str | os.PathLike, data: bytes | str, *, mode: int = 0o600,
                 exclusive: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically with permissions ``mode``; returns ``path``.

    With ``exclusive`` the write fails (UsageError) when anything exists at
    ``path`` (a symlink included), and never replaces it even if another
    writer races us. Otherwise a symlink at ``path`` is followed and its
    target replaced.
    """
    import tempfile

    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if exclusive and os.path.lexists(path):
        raise UsageError(f"{path} already exists", _EXISTS_HINT)
    target = path if exclusive else write_target(path)
    with locked(target):
        _remove_stale_temps(target)
        try:
            fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(target), suffix=_TMP_SUFFIX,
                                       dir=target.parent or ".")
        except OSError as exc:
            raise _unwritable(path, exc) from None
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
                os.fchmod(fh.fileno(), mode)
            if exclusive:
                try:
                    os.link(tmp, target)  # fails if the target appeared meanwhile
                except FileExistsError:
                    raise UsageError(f"{path} already exists", _EXISTS_HINT) from None
                os.unlink(tmp)
            else:
                os.replace(tmp, target)
            _fsync_dir(target.parent)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise _unwritable(path, exc) from None
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    return path


# ── locks ───────────────────────────────────────────────────────────────────────

_held = threading.local()


def _held_counts() -> dict[str, int]:
    counts = getattr(_held, "counts", None)
    if counts is None:
        counts = _held.counts = {}
    return counts


@contextlib.contextmanager
def locked(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive advisory lock for ``path`` (a symlink means its target).

    The lock lives on ``<target>.lock``, created 0600 when needed and removed
    by its holder on release, so nothing is left beside the file. Waiters that
    acquired a lock file its holder already removed notice and try again. A
    symlink (dangling or not) where the lock file goes is refused. The lock is
    re-entrant within a thread (a locked update may call ``atomic_write``).
    """
    import errno
    import fcntl

    target = write_target(path)
    key = os.path.abspath(target)
    counts = _held_counts()
    if counts.get(key):
        counts[key] += 1
        try:
            yield
        finally:
            counts[key] -= 1
        return
    lock_path = Path(f"{target}.lock")
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError as exc:
            if exc.errno == errno.ELOOP or os.path.islink(lock_path):
                raise UsageError(f"{lock_path} is a symbolic link; refusing to lock through it",
                                 f"remove {lock_path} (aster makes and removes its lock files itself)") from None
            raise _unwritable(target, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            mine = os.fstat(fd)
            try:
                now = os.lstat(lock_path)
                same = (now.st_ino, now.st_dev) == (mine.st_ino, mine.st_dev)
            except FileNotFoundError:
                same = False
        except BaseException:
            os.close(fd)
            raise
        if same:
            break
        os.close(fd)  # the holder removed this lock file as we waited: take the next one
    counts[key] = 1
    try:
        yield
    finally:
        del counts[key]
        with contextlib.suppress(OSError):
            os.unlink(lock_path)  # while still holding it: a waiter on this inode retries
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


# ── reading files users name ────────────────────────────────────────────────────


def read_bytes(path: str | os.PathLike, what: str, create_hint: str = "check the path") -> bytes:
    """The bytes of a file a user named, or one clear error naming it: missing
    (NotFoundError, exit 4); a directory or unreadable, e.g. mode 000 (UsageError, exit 2)."""
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"{what} {path} does not exist", create_hint) from None
    except IsADirectoryError:
        raise UsageError(f"{what} {path} is a directory", "give the path of the file itself") from None
    except PermissionError:
        raise UsageError(f"cannot read {what} {path}: permission denied",
                         f"check the file's permissions (e.g. `chmod u+r {path}`)") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}",
                         "check the path and the file's permissions") from None


def read_text(path: str | os.PathLike, what: str, create_hint: str = "check the path") -> str:
    """The UTF-8 text of a file a user named, or one clear error naming it: missing
    (NotFoundError, exit 4); a directory, unreadable or not UTF-8 text (UsageError, exit 2)."""
    raw = read_bytes(path, what, create_hint)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{what} {path} is not a text file (not UTF-8)", create_hint) from None


def parse_json(text: str, source: str, hint: str) -> Any:
    """JSON a user gave, within :mod:`aster_core.jsonlimits`' limits: every failure (bad
    syntax, nesting deeper than its ``MAX_DEPTH``, more than ``MAX_BYTES``, integers too long
    to convert) is a UsageError naming ``source``."""
    from .jsonlimits import loads_limited

    return loads_limited(text, field=source, hint=hint)


def load_json(path: str | os.PathLike, what: str, hint: str = "check the file") -> Any:
    """Read a JSON file a user named (see :func:`read_text`, :func:`parse_json`)."""
    return parse_json(read_text(path, what, hint), f"{what} {path}", hint)


def parse_toml(text: str, source: str, hint: str = "fix or move the file aside; nothing was changed") -> dict[str, Any]:
    """``tomllib.loads`` where every failure is a UsageError naming ``source``."""
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{source} is not valid TOML ({exc})", hint) from None
    except RecursionError:
        raise UsageError(f"{source} is not valid TOML here: nested too deeply to read", hint) from None
    except ValueError as exc:
        raise UsageError(f"{source} is not valid TOML ({exc})", hint) from None


def load_toml(path: str | os.PathLike, *, missing_ok: bool = True) -> dict[str, Any]:
    """Read a TOML file; a corrupt file is a UsageError naming the file and line."""
    try:
        text = read_text(path, "TOML file")
    except NotFoundError:
        if missing_ok:
            return {}
        raise
    return parse_toml(text, str(path))


CREDENTIAL_HINT = "give a credential made by `aster trust sign` or an `.aster-identity` file made by `aster enroll node`"


def load_credential_file(path: str | os.PathLike, what: str = "credential file",
                         hint: str = CREDENTIAL_HINT) -> tuple[str, dict[str, Any]]:
    """Read a credential file a user named (``--rcan``, ``ASTER_ENROLLMENT_CREDENTIAL``,
    ``trust inspect FILE``, ``./.aster-identity``): ``("json", object)`` for a credential
    JSON, ``("identity", document)`` for TOML. Missing is exit 4; unreadable, not UTF-8,
    neither JSON nor TOML, nested too deeply: exit 2, naming the file."""
    text = read_text(path, what, hint)
    if text.lstrip().startswith("{"):
        doc = parse_json(text, f"{what} {path}", hint)
        if not isinstance(doc, dict):
            raise UsageError(f"{what} {path} is not a JSON object", hint)
        return "json", doc
    import tomllib

    try:
        return "identity", tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{what} {path} is neither JSON nor TOML ({exc})", hint) from None
    except (RecursionError, ValueError):
        raise UsageError(f"{what} {path} is nested too deeply or holds numbers too long to read", hint) from None


def dump_toml(doc: dict[str, Any]) -> str:
    """TOML text of a plain document (a new file). Edits of existing files go
    through :func:`update_toml`, which keeps comments."""
    import tomli_w

    return tomli_w.dumps(doc)


def update_toml(path: str | os.PathLike, mutate: Callable[[dict[str, Any]], T], *,
                mode: int = 0o600) -> T:
    """Lock ``path``, load it, call ``mutate(doc)``, write it back atomically.

    ``doc`` is a tomlkit document (a ``dict``; its tables are dicts and its
    arrays of tables lists), so comments and layout survive. ``mutate``
    changes it in place and returns a result for the caller. If it raises,
    nothing is written. A symlinked ``path`` is followed.
    """
    import tomlkit

    path = Path(path)
    with locked(path):
        try:
            text = read_text(path, "TOML file")
        except NotFoundError:
            text = ""
        parse_toml(text, str(path))  # the same checks and messages as every reader
        try:
            doc = tomlkit.parse(text)
        except Exception as exc:  # tomllib accepted it: a corner tomlkit cannot edit
            raise UsageError(f"{path} cannot be edited in place ({exc})",
                             "fix or move the file aside; nothing was changed") from None
        result = mutate(doc)
        out = tomlkit.dumps(doc)
        parse_toml(out, f"the new text of {path}", "this is a bug in aster; report it (nothing was changed)")
        atomic_write(path, out, mode=mode)
    return result


# ── output paths ────────────────────────────────────────────────────────────────


def check_writable_target(path: str | os.PathLike) -> None:
    """Refuse a directory, a missing parent directory, or a place we may not write
    (before any work, so a bad path leaves no file)."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{path} is a directory", "give a file path")
    target = write_target(path)
    parent = target.parent
    if not parent.is_dir():
        state = "is not a directory" if parent.exists() else "does not exist"
        raise AsterError(f"cannot write {path}: {parent} {state}", "create the directory first or choose another path")
    if not os.access(parent, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise AsterError(f"cannot write {path}: permission denied", "choose a path you may write to")


def check_new_file(path: str | os.PathLike, force: bool) -> None:
    """As :func:`check_writable_target`, and refuse anything already at ``path``
    (a symlink included) unless ``force``: no command replaces a user's file it
    did not create without ``--force``."""
    if os.path.lexists(path) and not force and not os.path.isdir(path):
        raise UsageError(f"{path} already exists", _EXISTS_HINT)
    check_writable_target(path)
