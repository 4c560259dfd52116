"""A tar archive read as a stream, for untrusted input (the layers and archives of
``apply --image``): one pass, bounded memory, nothing extracted.

``tarfile`` reads a pax or GNU long-name header's data whole into memory, whatever size the
header claims; here every header goes through ``tarfile.TarInfo.frombuf`` (one 512-byte
block), an extended header's data is capped at :data:`MAX_EXTENDED`, and a member's data is
only ever read by the caller, with a cap of its own, or skipped in chunks::

    tar = TarStream(stream, "layer sha256:...")
    for entry in tar.entries(max_entries=100_000):
        if entry.name == wanted and entry.kind == FILE and entry.size <= cap:
            data = tar.read(entry)

Every malformed input raises :class:`TarFormatError` (a message for the user).
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from typing import BinaryIO, Iterator

BLOCK = 512
#: bytes of data a pax or GNU long-name header may carry (real ones hold a path or two)
MAX_EXTENDED = 1 << 20
CHUNK = 1 << 20
FILE, DIRECTORY, SYMLINK, HARDLINK, OTHER = "file", "directory", "symlink", "hardlink", "other"
_EXTENDED = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE,
             tarfile.SOLARIS_XHDTYPE)
_NO_DATA = (tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE,
            tarfile.FIFOTYPE)


class TarFormatError(Exception):
    """The stream is not a well-formed tar archive (the message says where and why)."""


@dataclass(frozen=True)
class Entry:
    name: str         #: as stored (pax and GNU long names applied), not normalized
    kind: str         #: FILE, DIRECTORY, SYMLINK, HARDLINK or OTHER
    size: int         #: bytes of data that follow the header
    linkname: str
    offset: int       #: where its data starts in the stream


def _kind(info: tarfile.TarInfo) -> str:
    if info.isreg():
        return FILE
    return {tarfile.DIRTYPE: DIRECTORY, tarfile.SYMTYPE: SYMLINK, tarfile.LNKTYPE: HARDLINK}.get(info.type, OTHER)


def parse_pax(data: bytes) -> dict[str, str]:
    """The records (``"<length> <key>=<value>\\n"``) of a pax extended header."""
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data) and data[pos:pos + 1] != b"\0":
        space = data.find(b" ", pos, pos + 20)
        digits = data[pos:space] if space > pos else b""
        if not digits.isdigit():
            raise TarFormatError("a pax header record has no length")
        length = int(digits)
        record = data[pos:pos + length]
        if length <= space - pos + 1 or len(record) != length or not record.endswith(b"\n"):
            raise TarFormatError("a pax header record is cut short or too long")
        key, sep, value = record[space - pos + 1:-1].partition(b"=")
        if not sep:
            raise TarFormatError("a pax header record has no '='")
        out[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


class TarStream:
    """One pass over a tar archive in ``stream`` (any object with ``read``)."""

    def __init__(self, stream: BinaryIO, what: str):
        self._stream = stream
        self.what = what
        self.offset = 0       #: bytes consumed so far
        self._left = 0        #: data of the current entry not read yet

    def _read(self, n: int) -> bytes:
        parts, want = [], n
        while want:
            chunk = self._stream.read(min(want, CHUNK))
            if not chunk:
                raise TarFormatError(f"{self.what} ends in the middle of a member (truncated)")
            parts.append(chunk)
            want -= len(chunk)
        self.offset += n
        return b"".join(parts)

    def _skip(self, n: int) -> None:
        while n:
            step = min(n, CHUNK)
            self._read(step)
            n -= step

    def _block(self) -> bytes | None:
        first = self._stream.read(BLOCK)
        if not first:
            return None  # no end-of-archive blocks: some writers leave them out
        self.offset += len(first)
        if len(first) < BLOCK:
            first += self._read(BLOCK - len(first))
        return first

    def entries(self, max_entries: int) -> Iterator[Entry]:
        """Each member in turn; what the caller does not :meth:`read` of one is skipped."""
        names: dict[str, str] = {}
        count = 0
        while True:
            block = self._block()
            if block is None or block.count(0) == BLOCK:
                return
            try:
                info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
            except tarfile.HeaderError as exc:
                raise TarFormatError(f"{self.what} has a bad tar header at byte {self.offset - BLOCK} ({exc})") \
                    from None
            if info.size < 0:  # base-256 sizes can be negative
                raise TarFormatError(f"{self.what} has a tar header with a negative size")
            padded = -(-info.size // BLOCK) * BLOCK
            if info.type in _EXTENDED:
                if info.size > MAX_EXTENDED:
                    raise TarFormatError(f"{self.what} has an extended tar header of {info.size} bytes "
                                         f"(at most {MAX_EXTENDED})")
                data = self._read(padded)[:info.size]
                if info.type == tarfile.GNUTYPE_LONGNAME:
                    names["path"] = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                elif info.type == tarfile.GNUTYPE_LONGLINK:
                    names["linkpath"] = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                elif info.type != tarfile.XGLTYPE:  # global headers change nothing we read
                    names.update(parse_pax(data))
                continue
            count += 1
            if count > max_entries:
                raise TarFormatError(f"{self.what} holds more than {max_entries} members")
            size = 0 if info.type in _NO_DATA else info.size
            if "size" in names:
                if not names["size"].isdigit() or len(names["size"]) > 20:
                    raise TarFormatError(f"{self.what} has a pax size that is not a number")
                size = 0 if info.type in _NO_DATA else int(names["size"])
                padded = -(-size // BLOCK) * BLOCK
            elif info.type in _NO_DATA:
                padded = 0
            entry = Entry(names.get("path", info.name), _kind(info), size, names.get("linkpath", info.linkname),
                          self.offset)
            names = {}
            self._left = size
            yield entry
            self._skip(self._left + padded - size)
            self._left = 0

    def read(self, entry: Entry) -> bytes:
        """The data of ``entry``, the member just yielded (the caller checked its size)."""
        if entry.offset != self.offset or self._left != entry.size:
            raise ValueError("read() takes the member just yielded, once")
        self._left = 0
        return self._read(entry.size)
