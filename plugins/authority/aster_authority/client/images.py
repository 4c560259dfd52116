"""``apply --image REF``: the contract manifest inside an OCI image.

The manifest's path is the image label ``io.aster.contract.path`` (default
``/aster/manifest.json``). A local OCI image layout (a directory holding ``oci-layout`` and
``index.json``, or a tar archive of one) is read directly, no daemon involved, as untrusted
input (:mod:`.oci_layout`: whole digests checked against what is read, size caps, streamed
layers, links refused, one ``Error:`` line, exit 2, for every malformed layout); any other
reference goes through ``podman`` or ``docker`` when one is installed.

The walk: ``index.json`` -> its first image (through at most ``MAX_NESTING`` image indexes)
-> the config (for the label) -> the layers, last first, until one holds the file or a
whiteout hides it.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import shutil
import subprocess
import tempfile
import zlib
from pathlib import Path
from typing import Any

from aster_core.errors import AsterError, NotFoundError, UsageError
from aster_core.text import control_in, shown, whole_match

from .oci_layout import (DIGEST, INDEX_TYPES, LAYOUT_HINT, MAX_DOCUMENT, MAX_LAYER, MAX_LAYER_MEMBERS, MAX_LAYERS,
                         MAX_NESTING, Archive, Counted, Directory, Prefixed, TooLarge, blob_path, json_document,
                         normal_name)
from .tar_stream import CHUNK, FILE, HARDLINK, SYMLINK, TarFormatError, TarStream

LABEL = "io.aster.contract.path"
DEFAULT_PATH = "/aster/manifest.json"
#: seconds one podman/docker command may take
ENGINE_TIMEOUT = 120
_HINT = "build the image with the manifest at /aster/manifest.json (or set the io.aster.contract.path label)"
_ZSTD = b"\x28\xb5\x2f\xfd"
_HIDDEN = object()  # a whiteout in the layer hides the file of the layers below


def manifests_from_image(ref: str) -> list[dict[str, Any]]:
    path = Path(ref)
    if path.is_dir() or path.is_file():
        source = Directory(path, ref) if path.is_dir() else Archive(path, ref)
        try:
            data, where = _Layout(source, ref).contract()
        finally:
            source.close()
        return _parse(data, where)
    return _from_engine(ref)


def _shown(value: Any) -> str:
    """A JSON value for a message: a string quoted and escaped, anything else as JSON, cut short."""
    return shown(value) if isinstance(value, str) else shown(json.dumps(value))[1:-1]


def _json_kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


class _Layout:
    """The walk through one layout (see the module's docstring)."""

    def __init__(self, source: Any, ref: str):
        self.source, self.ref = source, ref

    def bad(self, what: str, hint: str = LAYOUT_HINT) -> UsageError:
        return UsageError(f"{self.ref}: {what}", hint)

    def field(self, doc: Any, key: str, kind: type, where: str, *, required: bool = True) -> Any:
        if not isinstance(doc, dict):
            raise self.bad(f"{where} is {_json_kind(doc)}, not an object")
        value = doc.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            said = "missing" if key not in doc else f"{_json_kind(value)}, not {_json_kind(kind())}"
            raise self.bad(f"{where}: {key!r} is {said}")
        return value

    def descriptor(self, value: Any, where: str) -> tuple[str, int | None]:
        """A descriptor's whole digest and its size (None when not given)."""
        if not isinstance(value, dict):
            raise self.bad(f"{where} is {_json_kind(value)}, not a descriptor object")
        if "digest" not in value:
            raise self.bad(f"{where}: 'digest' is missing")
        digest = value["digest"]
        if not whole_match(DIGEST, digest):
            raise self.bad(f"{where}.digest {_shown(digest)} is not a digest (sha256: and 64 lower-case hex digits)")
        size = value.get("size")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            raise self.bad(f"{where}.size {_shown(size)} is not a size in bytes")
        return digest, size

    def document(self, name: str, what: str, digest: str | None = None, size: int | None = None) -> Any:
        blob = self.source.open(name)
        if blob is None:
            raise self.bad(f"{what} is missing" + ("" if digest else ": not an OCI image layout"))
        with blob:
            if blob.size > MAX_DOCUMENT:
                raise self.bad(f"{what} is {blob.size} bytes, more than a document may be ({MAX_DOCUMENT})")
            try:
                data = blob.stream.read(blob.size)
            except TarFormatError as exc:
                raise self.bad(str(exc)) from None
        if digest is not None:
            found = "sha256:" + hashlib.sha256(data).hexdigest()
            if found != digest:
                raise self.bad(f"{what} does not match its digest (its content hashes to {found})")
            if size is not None and size != len(data):
                raise self.bad(f"{what} is {len(data)} bytes, its descriptor says {size}")
        return json_document(data, f"{self.ref}: {what}")

    def image(self) -> Any:
        """The image manifest ``index.json`` leads to (its first image, through nested indexes)."""
        doc, where = self.document("index.json", "index.json"), "index.json"
        for _ in range(MAX_NESTING + 1):
            entries = self.field(doc, "manifests", list, where)
            if not entries:
                raise self.bad(f"{where} lists no image", _HINT)
            digest, size = self.descriptor(entries[0], f"{where} manifests[0]")
            doc = self.document(blob_path(digest), f"manifest {digest}", digest, size)
            if not (isinstance(doc, dict) and ("manifests" in doc or doc.get("mediaType") in INDEX_TYPES)):
                return doc
            where = f"image index {digest}"
        raise self.bad(f"image indexes nest more than {MAX_NESTING} deep")

    def wanted(self, config: Any) -> str:
        inner = self.field(config, "config", dict, "the config", required=False) or {}
        labels = self.field(inner, "Labels", dict, "the config's config", required=False) or {}
        value = labels.get(LABEL) or DEFAULT_PATH
        if not isinstance(value, str) or len(value) > 4096 or control_in(value):
            raise self.bad(f"the label {LABEL} is {_shown(value)}, not a path", _HINT)
        path = normal_name(value)
        if path is None:
            raise self.bad(f"the label {LABEL} is {shown(value)}, not a file's path", _HINT)
        return path

    def contract(self) -> tuple[bytes, str]:
        """The wanted file's bytes and where they came from (``REF:/path``)."""
        marker = self.source.open("oci-layout")
        if marker is None:
            raise UsageError(f"{self.ref} is not an OCI image layout (no oci-layout file)", _HINT)
        marker.close()
        manifest = self.image()
        digest, size = self.descriptor(self.field(manifest, "config", dict, "the image manifest"), "config")
        wanted = self.wanted(self.document(blob_path(digest), f"config {digest}", digest, size))
        layers = self.field(manifest, "layers", list, "the image manifest")
        if len(layers) > MAX_LAYERS:
            raise self.bad(f"the image has {len(layers)} layers, at most {MAX_LAYERS}")
        descriptors = [self.descriptor(layer, f"layers[{n}]") for n, layer in enumerate(layers)]
        for digest, size in reversed(descriptors):
            found = self.search(digest, size, wanted)
            if found is _HIDDEN:
                break
            if found is not None:
                return found, f"{self.ref}:/{wanted}"  # type: ignore[return-value]
        raise NotFoundError(f"{self.ref} holds no /{wanted}", _HINT)

    def search(self, digest: str, size: int | None, wanted: str) -> Any:
        """The wanted file's bytes if layer ``digest`` holds it, :data:`_HIDDEN` if it whites it
        out, else None; the whole layer is read (streamed) to check its digest."""
        blob = self.source.open(blob_path(digest))
        if blob is None:
            raise self.bad(f"layer {digest} is missing")
        hasher = hashlib.sha256()
        found: bytes | None = None
        hidden = False
        with blob:
            raw = Counted(blob.stream, MAX_LAYER, "as stored", hasher)
            try:
                head = raw.read(4)
                if head == _ZSTD:
                    raise self.bad(f"layer {digest} is zstd-compressed, which this reader does not read",
                                   "save the image with gzip or uncompressed layers, or pass the manifest itself "
                                   "with --manifest")
                stream: Any = Prefixed(head, raw)
                if head[:2] == b"\x1f\x8b":
                    stream = Counted(gzip.GzipFile(fileobj=stream, mode="rb"), MAX_LAYER, "once decompressed")
                else:
                    stream = Counted(stream, MAX_LAYER, "as a tar archive")
                tar = TarStream(stream, f"layer {digest}")
                for entry in tar.entries(MAX_LAYER_MEMBERS):
                    name = normal_name(entry.name)
                    if name == wanted:
                        found = self._member(tar, entry, digest, wanted)
                    elif name is not None and _hides(name, wanted):
                        hidden = True
                while raw.read(CHUNK):  # the rest of the blob, for its digest
                    pass
            except TooLarge as exc:
                raise self.bad(f"layer {digest} is larger than {MAX_LAYER} bytes {exc}") from None
            except TarFormatError as exc:
                raise self.bad(str(exc)) from None
            except (OSError, EOFError, zlib.error) as exc:
                raise self.bad(f"layer {digest} is not a valid gzip stream ({exc})") from None
        if "sha256:" + hasher.hexdigest() != digest:
            raise self.bad(f"layer {digest} does not match its digest (its content hashes to "
                           f"sha256:{hasher.hexdigest()})")
        if size is not None and size != raw.count:
            raise self.bad(f"layer {digest} is {raw.count} bytes, its descriptor says {size}")
        return found if found is not None else (_HIDDEN if hidden else None)

    def _member(self, tar: TarStream, entry: Any, digest: str, wanted: str) -> bytes:
        if entry.kind in (SYMLINK, HARDLINK):
            kind = "symbolic" if entry.kind == SYMLINK else "hard"
            raise self.bad(f"/{wanted} is a {kind} link in layer {digest} (to {shown(entry.linkname)})",
                           "put the manifest file itself at that path in the image")
        if entry.kind != FILE:
            raise self.bad(f"/{wanted} is not a file in layer {digest}", _HINT)
        if entry.size > MAX_DOCUMENT:
            raise self.bad(f"/{wanted} is {entry.size} bytes in layer {digest}, more than a manifest may be "
                           f"({MAX_DOCUMENT})", _HINT)
        return tar.read(entry)


def _hides(name: str, wanted: str) -> bool:
    """Whether whiteout ``name`` hides ``wanted`` in the layers below it."""
    folder, _, base = name.rpartition("/")
    if base == ".wh..wh..opq":
        return wanted.startswith(folder + "/") if folder else True
    if not base.startswith(".wh."):
        return False
    gone = (folder + "/" if folder else "") + base[4:]
    return wanted == gone or wanted.startswith(gone + "/")


def _parse(data: bytes, source: str) -> list[dict[str, Any]]:
    from aster_contract.manifest import validate_manifest

    doc = json_document(data, source, _HINT)
    items = doc if isinstance(doc, list) else [doc]
    return [validate_manifest(m, source) for m in items]


def _engine_hint(tool: str, ref: str, said: str) -> str:
    """What to do about a failure ``tool`` (podman or docker) reported as ``said``."""
    lowered = said.lower()
    layout = "or pass the path of an OCI image layout (directory or archive), which needs no engine"
    if "daemon" in lowered or "cannot connect" in lowered or ".sock" in lowered:
        return f"start {tool}'s service, {layout}"
    if "no such" in lowered or "not found" in lowered or "unknown" in lowered:
        return f"pull the image first (`{tool} pull {ref}`), {layout}"
    return f"check the image reference, {layout}"


def _from_engine(ref: str) -> list[dict[str, Any]]:
    found = shutil.which("podman") or shutil.which("docker")
    if found is None:
        raise NotFoundError(f"{ref!r} is not a local OCI layout and neither podman nor docker is installed",
                            "give the path of an OCI image layout (directory or archive), or install podman")
    tool = Path(found).name

    def run(*args: str) -> str:
        try:
            done = subprocess.run([found, *args], capture_output=True, text=True, timeout=ENGINE_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AsterError(f"{tool} {args[0]} did not finish within {ENGINE_TIMEOUT} s",
                             _engine_hint(tool, ref, "")) from None
        if done.returncode != 0:
            said = " ".join((done.stderr or done.stdout).split())  # one line, whatever the tool printed
            raise AsterError(f"{tool} {args[0]} failed: {said[:200]}", _engine_hint(tool, ref, said))
        return done.stdout.strip()

    labels = json.loads(run("image", "inspect", "--format", "{{json .Config.Labels}}", ref) or "null") or {}
    wanted = str(labels.get(LABEL) or DEFAULT_PATH)
    container = run("create", ref)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run("cp", f"{container}:{wanted}", f"{tmp}/manifest.json")
            copied = Path(tmp, "manifest.json")
            if not copied.is_file() or copied.stat().st_size > MAX_DOCUMENT:
                raise UsageError(f"{ref}:{wanted} is not a file of at most {MAX_DOCUMENT} bytes", _HINT)
            return _parse(copied.read_bytes(), f"{ref}:{wanted}")
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            subprocess.run([found, "rm", container], capture_output=True, timeout=60)
