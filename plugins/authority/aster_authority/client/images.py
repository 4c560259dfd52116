"""``apply --image REF``: the contract manifest inside an OCI image.

The manifest's path is the image label ``io.aster.contract.path`` (default
``/aster/manifest.json``). A local OCI image layout (a directory holding ``oci-layout`` and
``index.json``, or a tar archive of one) is read directly, no daemon involved; any other
reference goes through ``podman`` or ``docker`` when one is installed.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Callable

from aster_core.errors import AsterError, NotFoundError, UsageError

LABEL = "io.aster.contract.path"
DEFAULT_PATH = "/aster/manifest.json"
#: seconds one podman/docker command may take
ENGINE_TIMEOUT = 120
_HINT = "build the image with the manifest at /aster/manifest.json (or set the io.aster.contract.path label)"


def manifests_from_image(ref: str) -> list[dict[str, Any]]:
    path = Path(ref)
    if path.is_dir():
        return _from_layout(lambda name: (path / name).read_bytes() if (path / name).is_file() else None, ref)
    if path.is_file():
        try:
            with tarfile.open(path) as tar:
                names = {m.name.lstrip("./"): m for m in tar.getmembers() if m.isfile()}

                def read(name: str) -> bytes | None:
                    member = names.get(name)
                    return tar.extractfile(member).read() if member is not None else None  # type: ignore[union-attr]

                return _from_layout(read, ref)
        except tarfile.TarError as exc:
            raise UsageError(f"{ref} is not an OCI image layout archive ({exc})", _HINT) from None
    return _from_engine(ref)


def _json(read: Callable[[str], bytes | None], name: str, ref: str) -> Any:
    data = read(name)
    if data is None:
        raise UsageError(f"{ref}: {name} is missing: not an OCI image layout", _HINT)
    try:
        return json.loads(data)
    except ValueError as exc:
        raise UsageError(f"{ref}: {name} is not JSON ({exc})", _HINT) from None


def _blob(digest: str) -> str:
    algo, _, hexdigest = str(digest).partition(":")
    if not algo or not hexdigest or "/" in hexdigest or ".." in hexdigest:
        raise UsageError(f"bad blob digest {digest!r}", _HINT)
    return f"blobs/{algo}/{hexdigest}"


def _from_layout(read: Callable[[str], bytes | None], ref: str) -> list[dict[str, Any]]:
    if read("oci-layout") is None:
        raise UsageError(f"{ref} is not an OCI image layout (no oci-layout file)", _HINT)
    index = _json(read, "index.json", ref)
    entries = index.get("manifests") or []
    if not entries:
        raise UsageError(f"{ref}: index.json lists no image", _HINT)
    manifest = _json(read, _blob(entries[0]["digest"]), ref)
    if "manifests" in manifest:  # an image index: take its first image
        manifest = _json(read, _blob(manifest["manifests"][0]["digest"]), ref)
    config = _json(read, _blob(manifest["config"]["digest"]), ref)
    labels = (config.get("config") or {}).get("Labels") or {}
    wanted = str(labels.get(LABEL) or DEFAULT_PATH).lstrip("/")
    found: bytes | None = None
    for layer in manifest.get("layers", []):
        data = read(_blob(layer["digest"]))
        if data is None:
            raise UsageError(f"{ref}: layer {layer['digest']} is missing", _HINT)
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for member in tar.getmembers():
                if member.name.lstrip("./") == wanted and member.isfile():
                    found = tar.extractfile(member).read()  # type: ignore[union-attr]
    if found is None:
        raise NotFoundError(f"{ref} holds no /{wanted}", _HINT)
    return _parse(found, f"{ref}:/{wanted}")


def _parse(data: bytes, source: str) -> list[dict[str, Any]]:
    from aster_contract.manifest import validate_manifest

    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise UsageError(f"{source} is not JSON ({exc})", _HINT) from None
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
            return _parse(Path(tmp, "manifest.json").read_bytes(), f"{ref}:{wanted}")
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            subprocess.run([found, "rm", container], capture_output=True, timeout=60)
