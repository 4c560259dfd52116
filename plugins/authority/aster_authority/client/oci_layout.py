"""One file out of a local OCI image layout (a directory holding ``oci-layout`` and
``index.json``, or a tar archive of one, plain or gzip/bzip2/xz-compressed), read as untrusted
input for ``apply --image``.

- **Digests**: ``sha256:`` + 64 lower-case hex digits, matched whole (``../../../../etc:passwd``
  is not a digest), and every blob read must hash to its digest and have its descriptor's
  ``size``.
- **Sizes**, and nothing over a cap is ever held in memory: each JSON document (``index.json``,
  image indexes, manifests, configs) and the wanted file at most :data:`MAX_DOCUMENT` bytes; a
  layer is streamed, at most :data:`MAX_LAYER` bytes stored and again once decompressed, with at
  most :data:`MAX_LAYER_MEMBERS` members; at most :data:`MAX_LAYERS` layers, image indexes nested
  :data:`MAX_NESTING` deep, JSON nested 64 levels (``aster_core.jsonlimits``, which parses every
  document); an archive layout at most :data:`MAX_ARCHIVE_MEMBERS` members (and
  :data:`MAX_ARCHIVE` bytes once decompressed).
- **Links** are refused: a blob that is a symbolic or hard link in an archive, a blob file whose
  real path leaves a directory layout, a wanted file that is a link in its layer.
- The wanted file comes from the last layer holding it; a whiteout in a later layer hides it.

Every malformed layout is one ``UsageError`` (exit 2) saying what is wrong; a layout without the
file is ``NotFoundError`` (exit 4).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import re
import stat
import zlib
from pathlib import Path
from typing import Any, BinaryIO, Callable

from aster_core.errors import UsageError
from aster_core.jsonlimits import MAX_DEPTH, loads_limited
from aster_core.text import shown

from .tar_stream import CHUNK, FILE, HARDLINK, SYMLINK, TarFormatError, TarStream

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
MAX_DOCUMENT = 4 << 20
MAX_LAYER = 1 << 30
MAX_LAYER_MEMBERS = 500_000
MAX_LAYERS = 128
MAX_NESTING = 4
MAX_ARCHIVE_MEMBERS = 10_000
MAX_ARCHIVE = 8 << 30
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
LAYOUT_HINT = ("give a well-formed OCI image layout (`skopeo copy ... oci:DIR`, `podman save --format oci-dir` "
               "write one), or pass the manifest itself with --manifest")
_COMPRESSED: dict[bytes, Callable[[BinaryIO], BinaryIO]] = {
    b"\x1f\x8b": lambda f: gzip.GzipFile(fileobj=f, mode="rb"),  # type: ignore[dict-item]
    b"BZh": lambda f: bz2.BZ2File(f),  # type: ignore[dict-item]
    b"\xfd7zXZ\x00": lambda f: lzma.LZMAFile(f),  # type: ignore[dict-item]
}


class TooLarge(Exception):
    """A stream passed its cap (the message says which)."""


class Counted:
    """``read`` of ``stream`` (at most a chunk at a time), refusing past ``cap`` bytes, hashing
    what it passes when given a ``hasher``."""

    def __init__(self, stream: Any, cap: int, what: str, hasher: Any = None):
        self.stream, self.cap, self.what, self.hasher = stream, cap, what, hasher
        self.count = 0
        self.mode = "rb"

    def read(self, n: int = -1) -> bytes:
        n = CHUNK if n is None or n < 0 else n
        data = self.stream.read(min(n, self.cap - self.count + 1))
        self.count += len(data)
        if self.count > self.cap:
            raise TooLarge(self.what)
        if self.hasher is not None:
            self.hasher.update(data)
        return data


class Prefixed:
    """``head`` (bytes already read from ``rest``), then ``rest``."""

    def __init__(self, head: bytes, rest: Any):
        self.head, self.rest, self.mode = head, rest, "rb"

    def read(self, n: int = -1) -> bytes:
        if self.head:
            n = len(self.head) if n is None or n < 0 else n
            out, self.head = self.head[:n], self.head[n:]
            return out
        return self.rest.read(n)


class _Blob:
    """An open blob: ``stream`` of exactly ``size`` bytes (a short one is an error)."""

    def __init__(self, stream: Any, size: int, close: Callable[[], None]):
        self.stream, self.size, self.close = stream, size, close

    def __enter__(self) -> "_Blob":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Slice:
    """``size`` bytes of ``stream``; ending sooner is a truncated archive."""

    def __init__(self, stream: Any, size: int, what: str):
        self.stream, self.left, self.what = stream, size, what

    def read(self, n: int = -1) -> bytes:
        n = self.left if n is None or n < 0 else min(n, self.left)
        data = self.stream.read(n) if n else b""
        if len(data) < n and not data:
            raise TarFormatError(f"{self.what} is cut short (a truncated archive)")
        self.left -= len(data)
        return data


def blob_path(digest: str) -> str:
    return "blobs/sha256/" + digest.partition(":")[2]


def normal_name(name: str) -> str | None:
    """A member's path relative to the root (``./a//b`` -> ``a/b``); None for the root itself
    and for any name with a ``..`` part (no image needs one; it could only alias another)."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    return None if not parts or ".." in parts else "/".join(parts)


def json_document(data: bytes, what: str, hint: str = LAYOUT_HINT) -> Any:
    """``data`` as JSON within the one set of JSON limits (``aster_core.jsonlimits``: at most
    :data:`MAX_DOCUMENT` bytes, nested at most ``MAX_DEPTH`` levels); else a UsageError."""
    return loads_limited(data, field=what, max_bytes=MAX_DOCUMENT, max_depth=MAX_DEPTH, hint=hint)


# ── where the layout's files are ──────────────────────────────────────────────────


class Directory:
    """A layout in a directory; a file whose real path leaves it is refused."""

    def __init__(self, root: Path, ref: str):
        self.root, self.ref = root.resolve(), ref

    def open(self, name: str) -> _Blob | None:
        path = self.root / name
        if not os.path.lexists(path):
            return None
        real = path.resolve()
        if self.root not in real.parents:
            raise UsageError(f"{self.ref}: {name} leads out of the layout (a symbolic link to {real})", LAYOUT_HINT)
        try:
            fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not block the command
        except OSError as exc:
            raise UsageError(f"{self.ref}: cannot read {name} ({exc.strerror or exc})", LAYOUT_HINT) from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise UsageError(f"{self.ref}: {name} is not a regular file", LAYOUT_HINT)
        f = os.fdopen(fd, "rb")
        return _Blob(f, info.st_size, f.close)

    def close(self) -> None:
        pass


class Archive:
    """A layout in a tar archive: indexed in one streamed pass, each file then read by skipping to
    it (a seek in a plain archive, decompressing up to it in a compressed one)."""

    def __init__(self, path: Path, ref: str):
        self.path, self.ref = path, ref
        with open(path, "rb") as f:
            magic = f.read(6)
        self.opener = next((fn for m, fn in _COMPRESSED.items() if magic.startswith(m)), None)
        self.entries: dict[str, Any] = {}
        f, stream = self._stream()
        try:
            for entry in TarStream(stream, ref).entries(MAX_ARCHIVE_MEMBERS):
                name = normal_name(entry.name)
                if name is not None:
                    self.entries[name] = entry
        except TarFormatError as exc:
            raise UsageError(f"{ref} is not an OCI image layout archive ({exc})", LAYOUT_HINT) from None
        except TooLarge:
            raise UsageError(f"{ref} holds more than {MAX_ARCHIVE} bytes once decompressed", LAYOUT_HINT) from None
        except (OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
            raise UsageError(f"{ref} is not a readable archive ({exc})", LAYOUT_HINT) from None
        finally:
            f.close()

    def _stream(self) -> tuple[Any, Any]:
        f = open(self.path, "rb")
        if self.opener is None:
            return f, f
        return f, Counted(self.opener(f), MAX_ARCHIVE, f"{self.ref} decompressed")

    def open(self, name: str) -> _Blob | None:
        entry = self.entries.get(name)
        if entry is None:
            return None
        if entry.kind in (SYMLINK, HARDLINK):
            kind = "symbolic" if entry.kind == SYMLINK else "hard"
            raise UsageError(f"{self.ref}: {name} is a {kind} link in the archive (to {shown(entry.linkname)}), "
                             "not a file", LAYOUT_HINT)
        if entry.kind != FILE:
            raise UsageError(f"{self.ref}: {name} is not a file in the archive", LAYOUT_HINT)
        f, stream = self._stream()
        try:
            if stream is f:
                f.seek(entry.offset)
            else:
                left = entry.offset
                while left:
                    chunk = stream.read(min(left, CHUNK))
                    if not chunk:
                        raise TarFormatError(f"{self.ref} ends before {name}")
                    left -= len(chunk)
        except BaseException:
            f.close()
            raise
        return _Blob(_Slice(stream, entry.size, f"{self.ref}: {name}"), entry.size, f.close)

    def close(self) -> None:
        pass
