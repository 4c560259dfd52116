"""Device bundles written many at once, durably, and never half-written under a bundle's name.

Writing a thousand bundles one by one with :func:`aster_core.files.atomic_write` waits for
two flushes per bundle (the file, then its folder): most of ``provision --count``'s time.
Here the same guarantees cost one pass:

1. every bundle is written (0600) as a file with no name yet: an anonymous file of its folder
   (``O_TMPFILE``), or where the filesystem has none, or an existing file is to be replaced,
   under a hidden temporary name that never ends in ``.bundle.json`` (nothing reads it as a
   bundle);
2. the files are flushed to disk together: the writeback of every one is started first
   (``posix_fadvise(DONTNEED)``), then a few threads wait on ``fdatasync`` (the kernel commits
   them in a few journal transactions instead of one each). Measured on ext4 for 1,000 files:
   0.11-0.13 s and 0.10 s of CPU this way, 0.14-0.23 s and 0.15-0.17 s with 16 threads and no
   early start (each thread back from a flush waits on the interpreter's lock);
3. each gets its real name: a link that fails if the name is taken (so an existing file is
   never replaced unless asked), or a rename of the temporary file when replacing is asked for;
4. each folder is flushed once, which makes the names durable.

So a bundle under its real name is complete and on disk before the name exists, and when
:func:`write_bundles` returns, every one of them survives a crash. A process killed in the
middle leaves complete bundles and nothing else (an anonymous file goes with the process), or,
where temporary names were used, hidden temporary files (``.NAME.XXXX.tmp``) that the next
write into that folder clears. Whatever fails, the bundles this call created and its temporary
files are removed before the error goes on. Anonymous files spare each bundle two of the three
changes to its folder a temporary name costs (create, link, unlink): measured, 1,000 bundles
written with 35% less CPU and 23% less time.

``index.csv`` goes the same way (:func:`write_index`, replacing), without the lock file
:func:`aster_core.files.atomic_write` holds beside it: a run killed while holding that lock
would leave ``index.csv.lock`` behind, and two provisions never share a folder anyway.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from aster_core.errors import NotFoundError, UsageError

#: flushes in flight at once (the writeback is started before: they mostly wait for the commit)
FLUSHERS = 4
TEMP_SUFFIX = ".tmp"
BUNDLE_SUFFIX = ".bundle.json"
INDEX_COLUMNS = ("instance_id", "endpoint_id", "name", "serial_number", "model_number", "bundle")
INDEX_FILE = "index.csv"


def temp_name(path: Path) -> Path:
    """A fresh temporary name for ``path``, in its folder."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def is_stale_temp(name: str) -> bool:
    """Whether ``name`` is a :func:`temp_name` of a bundle (``*.bundle.json``) or of ``index.csv``."""
    if not (name.startswith(".") and name.endswith(TEMP_SUFFIX)):
        return False
    target, _, token = name[1:-len(TEMP_SUFFIX)].rpartition(".")
    return ((target.endswith(BUNDLE_SUFFIX) or target == INDEX_FILE) and len(token) == 8
            and all(c in "0123456789abcdef" for c in token))


def remove_stale_temps(directory: Path) -> int:
    """Remove the temporary bundle files a killed writer left in ``directory``; how many."""
    removed = 0
    with contextlib.suppress(OSError):
        for name in os.listdir(directory):
            if is_stale_temp(name):
                with contextlib.suppress(OSError):
                    os.unlink(directory / name)
                    removed += 1
    return removed


def _unwritable(path: Path, exc: OSError) -> UsageError:
    return UsageError(f"cannot write {path}: {exc.strerror or exc}", "give a directory you may write to")


def _flush_folders(folders: Iterable[Path]) -> None:
    for folder in folders:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def anonymous_files() -> bool:
    """Whether anonymous files can be written here and later linked to a name (``O_TMPFILE``, and
    ``/proc/self/fd`` to link them by); a folder's filesystem may still refuse them."""
    return hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd")


#: what opening an anonymous file gives on a filesystem (or kernel) that has none
_NO_ANONYMOUS = frozenset({errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL})


def _open(path: Path, anonymous: bool) -> tuple[int, Path | None]:
    """A file to write ``path``'s bundle into: an anonymous one of its folder (no temporary name)
    when ``anonymous`` and the filesystem has them, else one under a fresh temporary name."""
    if anonymous:
        try:
            return os.open(path.parent, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o600), None
        except OSError as exc:
            if exc.errno not in _NO_ANONYMOUS:
                raise
    temp = temp_name(path)
    return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600), temp


def _taken(path: Path) -> UsageError:
    return UsageError(f"{path} already exists", "choose another path, or pass --force to replace it")


def write_bundles(bundles: Sequence[tuple[Path, str]], *, replace: bool = False,
                  anonymous: bool | None = None, meanwhile: Callable[[], Any] | None = None) -> list[Path]:
    """Write each ``(path, text)`` durably (see the module docstring); the paths that did not exist
    before, which are the ones to delete if nothing should be left behind.

    Without ``replace``, a path that exists already is a UsageError (nothing written stays).
    ``anonymous``: write anonymous files where the filesystem has them (None: wherever this
    system does, :func:`anonymous_files`), else under temporary names; replacing always uses
    temporary names. ``meanwhile()`` runs once every file is written and its writeback started,
    before waiting for the disk: work of the caller's that the flush then hides (if it fails,
    nothing of the call stays).
    """
    temps: list[Path | None] = []
    created: list[Path] = []
    fds: list[int] = []
    dirs: dict[Path, int] = {}
    folders = list(dict.fromkeys(path.parent for path, _ in bundles))
    for folder in folders:
        remove_stale_temps(folder)  # a writer killed before us; two provisions never share a folder
    # a link never replaces: a rename of a named file does
    anonymous = not replace and (anonymous_files() if anonymous is None else anonymous)
    try:
        for path, text in bundles:
            if not replace and os.path.lexists(path):
                raise _taken(path)
            try:
                fd, temp = _open(path, anonymous)
            except OSError as exc:
                raise _unwritable(path, exc) from None
            anonymous = anonymous and temp is None  # a filesystem without them: no second try
            temps.append(temp)
            fds.append(fd)
            data = memoryview(text.encode("utf-8"))
            try:
                os.fchmod(fd, 0o600)  # whatever the umask
                while data:
                    data = data[os.write(fd, data):]
            except OSError as exc:
                raise _unwritable(path, exc) from None
        try:
            if hasattr(os, "posix_fadvise"):
                for fd in fds:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # starts the writeback now
        except OSError as exc:
            raise _unwritable(bundles[0][0].parent, exc) from None
        if meanwhile is not None:
            meanwhile()
        try:
            with ThreadPoolExecutor(min(FLUSHERS, max(1, len(fds)))) as pool:
                list(pool.map(os.fdatasync, fds))
        except OSError as exc:
            raise _unwritable(bundles[0][0].parent, exc) from None
        for (path, _), temp, fd in zip(bundles, temps, fds):
            existed = replace and os.path.lexists(path)
            try:
                if temp is None:
                    _link_anonymous(fd, path, dirs)
                elif replace:
                    os.replace(temp, path)
                else:
                    os.link(temp, path)  # fails if the name was taken meanwhile
                    os.unlink(temp)
            except FileExistsError:
                raise _taken(path) from None
            except OSError as exc:
                raise _unwritable(path, exc) from None
            if not existed:
                created.append(path)
        try:
            _flush_folders(folders)
        except OSError as exc:
            raise _unwritable(bundles[0][0].parent, exc) from None
    except BaseException:
        for path in [*created, *(t for t in temps if t is not None)]:
            with contextlib.suppress(OSError):
                os.unlink(path)
        raise
    finally:
        for fd in [*fds, *dirs.values()]:
            with contextlib.suppress(OSError):
                os.close(fd)
    return created


def _link_anonymous(fd: int, path: Path, dirs: dict[Path, int]) -> None:
    """Give the anonymous file open as ``fd`` the name ``path`` (fails if it is taken): ``linkat``
    following ``/proc/self/fd/N`` to the file. A folder's descriptor as ``src_dir_fd`` is what
    makes ``os.link`` call ``linkat`` (the source path is absolute, so it names no folder)."""
    if path.parent not in dirs:
        dirs[path.parent] = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    os.link(f"/proc/self/fd/{fd}", path, src_dir_fd=dirs[path.parent], follow_symlinks=True)


def write_index(path: Path, text: str) -> None:
    """Write (or replace) ``path``, an ``index.csv``, durably: the bundles' one pass for one file."""
    write_bundles([(path, text)], replace=True)


def bundle_files(path: Path, max_count: int) -> tuple[list[Path], bool]:
    """The bundle files ``path`` names (itself, or the ``*.bundle.json`` of a directory) and
    whether it is a directory."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.name.endswith(BUNDLE_SUFFIX) and p.is_file())
        if not files:
            raise UsageError(f"{path} holds no *{BUNDLE_SUFFIX} file", "give a bundle, or the --out-dir of a "
                             "provision")
        if len(files) > max_count:
            raise UsageError(f"{path} holds {len(files)} bundles, at most {max_count}", "split them in folders")
        return files, True
    if not path.exists():
        raise NotFoundError(f"no bundle {path}", "give the bundle or the directory a provision wrote")
    return [path], False


def write_index_of(path: Path | None, done: list[dict[str, Any]]) -> None:
    """``index.csv`` of the registered devices ``done`` (:func:`write_index`: durable, replaced whole)."""
    if path is None or not done:
        return
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(INDEX_COLUMNS)
    for d in done:
        m = d["metadata"]
        writer.writerow([d["instance_id"], d["endpoint_id"], m.get("name", ""), m.get("serial_number", ""),
                         m.get("model_number", ""), Path(d["bundle"]).name])
    write_index(path, buf.getvalue())
