"""`apply --image` on hostile OCI image layouts, each built here: a path-traversal digest, a gzip
bomb, tar member bombs, index.json with missing keys, wrong types and deep nesting, symbolic and
hard links, digest mismatches. Each ends in one `Error:` line (exit 2) saying what is wrong,
never reads outside the layout and never holds more than a cap in memory."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from aster_core.errors import AsterError
from aster_core.testing import aster_executable, assert_clean_error, invoke

from aster_authority.client import oci_layout
from aster_authority.client.images import manifests_from_image

CONTRACT = "aster/manifest.json"
MiB = 1 << 20


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_bytes(members: list[tuple[tarfile.TarInfo, bytes | None]], *, gz: bool = True) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def file_member(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def link_member(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def zeros_layer(name: str, size: int) -> bytes:
    """A gzip layer holding ``name`` of ``size`` zero bytes, built as concatenated gzip members of
    1 MiB each (a few KB for GBs: a gzip bomb) without compressing ``size`` bytes here."""
    info = tarfile.TarInfo(name)
    info.size = size
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    megabyte = gzip.compress(b"\0" * MiB, 9)
    parts = [gzip.compress(header)] + [megabyte] * (size // MiB)
    if size % MiB:
        parts.append(gzip.compress(b"\0" * (size % MiB)))
    return b"".join(parts) + gzip.compress(b"\0" * 1024)  # end-of-archive blocks


class Layout:
    """An OCI image layout directory under construction."""

    def __init__(self, root: Path):
        self.root = root
        self.blobs = root / "blobs" / "sha256"
        self.blobs.mkdir(parents=True)
        (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')

    def blob(self, data: bytes, *, stored: bytes | None = None) -> str:
        """Store ``data`` under its digest (``stored`` in its place: a mismatch)."""
        digest = digest_of(data)
        (self.blobs / digest.split(":")[1]).write_bytes(data if stored is None else stored)
        return digest

    def image(self, layers: list[bytes], *, labels: dict | None = None, config: object = None,
              manifest: dict | None = None) -> str:
        cfg = config if config is not None else {"config": {"Labels": labels or {}}}
        doc = {"schemaVersion": 2, "config": {"digest": self.blob(json.dumps(cfg).encode())},
               "layers": [{"digest": self.blob(layer), "size": len(layer)} for layer in layers]}
        doc.update(manifest or {})
        return self.blob(json.dumps(doc).encode())

    def index(self, doc: object) -> Path:
        (self.root / "index.json").write_text(doc if isinstance(doc, str) else json.dumps(doc))
        return self.root

    def index_of(self, digest: str) -> Path:
        return self.index({"schemaVersion": 2, "manifests": [{"digest": digest}]})

    def archive(self, path: Path, mode: str = "w") -> Path:
        with tarfile.open(path, mode) as tar:
            tar.add(self.root, arcname=".")
        return path


@pytest.fixture
def layout(tmp_path) -> Layout:
    return Layout(tmp_path / "image")


@pytest.fixture(scope="module")
def contract(manifest_files) -> bytes:
    return manifest_files["v1"].read_bytes()


def refused(ref: Path | str, *needles: str, code: int = 2, command: bool = True) -> str:
    """The reader refuses ``ref`` with exit ``code``, and so does the command (unless not
    ``command``): one Error line."""
    with pytest.raises(AsterError) as info:
        manifests_from_image(str(ref))
    assert info.value.exit_code == code, info.value.message
    for needle in needles:
        assert needle in info.value.message, (needle, info.value.message)
    if not command:
        return info.value.message
    out = invoke(["svc", "payments", "apply", "--image", str(ref), "--authority", "aster1qqqq"])
    return assert_clean_error(out, code, *needles)


def test_a_good_layout_still_reads_as_a_directory_and_as_archives(layout, contract, tmp_path):
    earlier = tar_bytes([file_member(CONTRACT, b"{}")])  # replaced by the later layer
    later = tar_bytes([file_member("./" + CONTRACT, contract)], gz=False)
    layout.index_of(layout.image([earlier, later]))
    assert manifests_from_image(str(layout.root))[0]["service"] == "TaskService"
    for name, mode in (("image.tar", "w"), ("image.tar.gz", "w:gz"), ("image.tar.xz", "w:xz")):
        assert manifests_from_image(str(layout.archive(tmp_path / name, mode)))[0]["service"] == "TaskService"


def test_a_path_traversal_digest_is_not_read(layout):
    # "<algorithm>:<hex>" was read as blobs/<algorithm>/<hex>: enough ../ reach /etc/passwd
    for digest in ("../" * 30 + "etc:passwd", "../../../../etc:passwd", "sha256:../../../../etc/passwd",
                   "sha256:" + "A" * 64, "sha256:" + "a" * 64 + "\n", "sha512:" + "a" * 128, "sha256:" + "a" * 63):
        layout.index({"manifests": [{"digest": digest}]})
        refused(layout.root, "index.json manifests[0].digest", "is not a digest")


def test_a_gzip_bomb_layer_stops_at_the_cap_in_bounded_memory(layout, tmp_path):
    bomb = zeros_layer("big.bin", 2 << 30)
    assert len(bomb) < 3 * MiB
    layout.index_of(layout.image([bomb]))
    started = time.monotonic()
    refused(layout.root, "is larger than", str(oci_layout.MAX_LAYER), "once decompressed", command=False)
    assert time.monotonic() - started < 60
    # the command, in a process of its own: one Error line, and it never holds the layer (its
    # peak memory stays small)
    probe = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
             "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.stderr.write(p.stderr)")
    done = subprocess.run([sys.executable, "-c", probe, aster_executable(), "svc", "payments", "apply", "--image",
                           str(layout.root), "--authority", "aster1qqqq"], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "ASTER_PLUGINS": "aster-authority"})
    code, peak_kib = map(int, done.stdout.split())
    assert code == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "larger than" in lines[0], done.stderr
    assert peak_kib < 200 * 1024, peak_kib  # KiB; reading the layer whole took over 2 GiB


def test_tar_member_bombs_are_refused_by_their_headers(layout, tmp_path):
    # the wanted file claims 2 GiB (a few KB of gzip): refused before a byte of it is read
    layout.index_of(layout.image([zeros_layer(CONTRACT, 2 << 30)]))
    started = time.monotonic()
    refused(layout.root, f"/{CONTRACT} is {2 << 30} bytes", "more than a manifest may be")
    assert time.monotonic() - started < 10
    # an archive layout whose index.json is larger than a document may be
    big = Layout(tmp_path / "big")
    big.index({"manifests": [], "padding": " " * (oci_layout.MAX_DOCUMENT + 1)})
    refused(big.archive(tmp_path / "big.tar.gz", "w:gz"), "index.json is", "more than a document may be")
    # a pax header claiming a huge size for its own data
    huge = tarfile.TarInfo("x")
    huge.type = tarfile.XHDTYPE
    huge.size = 1 << 40
    hostile = gzip.compress(huge.tobuf(format=tarfile.GNU_FORMAT) + b"\0" * 4096)
    other = Layout(tmp_path / "pax")
    other.index_of(other.image([hostile]))
    refused(other.root, "extended tar header", str(1 << 40))


@pytest.mark.parametrize("doc,needles", [
    ({}, ["index.json: 'manifests' is missing"]),
    ([], ["index.json is a list, not an object"]),
    ({"manifests": {}}, ["'manifests' is an object, not a list"]),
    ({"manifests": []}, ["index.json lists no image"]),
    ({"manifests": ["sha256:" + "a" * 64]}, ["manifests[0] is a string, not a descriptor object"]),
    ({"manifests": [{}]}, ["index.json manifests[0]: 'digest' is missing"]),
    ({"manifests": [{"digest": 5}]}, ["manifests[0].digest 5 is not a digest"]),
    ({"manifests": [{"digest": "sha256:" + "a" * 64, "size": "12"}]}, ["manifests[0].size '12' is not a size"]),
    ("{not json", ["index.json is not valid JSON"]),
    ('{"manifests": ' + "[" * 100_000 + "]" * 100_000 + "}", ["index.json is not valid JSON here: nested 100001 levels "
                                                             "deep, more than 64"]),
    ('{"manifests": ' + "[" * 70 + "]" * 70 + "}", ["nested 71 levels deep, more than 64"]),
])
def test_a_malformed_index_json(layout, doc, needles):
    layout.index(doc)
    refused(layout.root, *needles)


def test_malformed_manifests_configs_and_nesting(layout, contract):
    good = tar_bytes([file_member(CONTRACT, contract)])
    for patch, needle in (({"config": None}, "the image manifest: 'config' is null, not an object"),
                          ({"config": []}, "'config' is a list, not an object"),
                          ({"layers": {}}, "'layers' is an object, not a list"),
                          ({"layers": [{"digest": "sha256:../x"}]}, "layers[0].digest"),
                          ({"layers": [{"digest": digest_of(good), "size": True}]}, "layers[0].size true is not a size"),
                          ({"layers": [{"digest": digest_of(good)}] * 129}, "129 layers, at most 128")):
        layout.index_of(layout.image([good], manifest=patch))
        refused(layout.root, needle)
    for config, needle in (([1], "the config is a list, not an object"),
                           ({"config": {"Labels": ["x"]}}, "'Labels' is a list, not an object"),
                           ({"config": {"Labels": {"io.aster.contract.path": 5}}}, "not a path"),
                           ({"config": {"Labels": {"io.aster.contract.path": "/a\nb"}}}, "not a path"),
                           ({"config": {"Labels": {"io.aster.contract.path": "/.."}}}, "not a file's path")):
        layout.index_of(layout.image([good], config=config))
        refused(layout.root, needle)
    # image indexes nested deeper than the reader follows
    digest = layout.image([good])
    for _ in range(oci_layout.MAX_NESTING + 1):
        digest = layout.blob(json.dumps({"schemaVersion": 2, "mediaType": oci_layout.INDEX_TYPES[0],
                                         "manifests": [{"digest": digest}]}).encode())
    layout.index_of(digest)
    refused(layout.root, f"image indexes nest more than {oci_layout.MAX_NESTING} deep")
    # ... and within the limit they are followed
    digest = layout.blob(json.dumps({"manifests": [{"digest": layout.image([good])}]}).encode())
    layout.index_of(digest)
    assert manifests_from_image(str(layout.root))[0]["service"] == "TaskService"
    # a layout without the file is "not found" (exit 4), as before
    layout.index_of(layout.image([tar_bytes([file_member("other.json", b"{}")])]))
    refused(layout.root, f"holds no /{CONTRACT}", code=4)


def test_links_are_refused(layout, contract, tmp_path):
    # the wanted file as a symbolic or hard link inside its layer
    for kind, word in ((tarfile.SYMTYPE, "symbolic"), (tarfile.LNKTYPE, "hard")):
        layer = tar_bytes([file_member("etc/real.json", contract), link_member(CONTRACT, "/etc/passwd", kind)])
        layout.index_of(layout.image([layer]))
        refused(layout.root, f"/{CONTRACT} is a {word} link in layer", "/etc/passwd")
    # a blob of an archive layout that is a symbolic link (to a file outside, or inside)
    manifest = layout.image([tar_bytes([file_member(CONTRACT, contract)])])
    layout.index_of(manifest)
    archive = tmp_path / "links.tar"
    with tarfile.open(archive, "w") as tar:
        for name in ("oci-layout", "index.json"):
            tar.add(layout.root / name, arcname=name)
        tar.addfile(*link_member(f"blobs/sha256/{manifest.split(':')[1]}", "/etc/passwd"))
    refused(archive, f"blobs/sha256/{manifest.split(':')[1]} is a symbolic link in the archive")
    # a blob file of a directory layout that is a symbolic link out of it
    target = layout.blobs / manifest.split(":")[1]
    target.unlink()
    target.symlink_to("/etc/passwd")
    refused(layout.root, "leads out of the layout")
    # ... while a link that stays inside the layout is read (and checked against its digest)
    target.unlink()
    (layout.root / "copy").write_bytes(json.dumps({"schemaVersion": 2}).encode())
    target.symlink_to(layout.root / "copy")
    refused(layout.root, f"manifest {manifest} does not match its digest")


def test_digest_mismatches_are_refused(layout, contract):
    good = tar_bytes([file_member(CONTRACT, contract)])
    evil = tar_bytes([file_member(CONTRACT, b'{"service": "Evil"}')])
    # a layer stored under another layer's digest
    layout.blob(good, stored=evil)
    cfg = layout.blob(json.dumps({"config": {}}).encode())
    doc = {"schemaVersion": 2, "config": {"digest": cfg}, "layers": [{"digest": digest_of(good)}]}
    layout.index_of(layout.blob(json.dumps(doc).encode()))
    refused(layout.root, f"layer {digest_of(good)} does not match its digest", digest_of(evil))
    # a manifest, a config
    honest = json.dumps(doc).encode()
    layout.index_of(layout.blob(honest, stored=honest.replace(b"schemaVersion", b"schemaversion")))
    refused(layout.root, "does not match its digest")
    config = json.dumps({"config": {}}).encode()
    layout.blob(config, stored=json.dumps({"config": {"Labels": {"io.aster.contract.path": "/etc/x"}}}).encode())
    layout.blob(good)
    layout.index_of(layout.blob(json.dumps(doc).encode()))
    refused(layout.root, f"config {cfg} does not match its digest")
    # a size other than the descriptor says
    layout.blob(config)
    doc["layers"] = [{"digest": digest_of(good), "size": len(good) + 1}]
    layout.index_of(layout.blob(json.dumps(doc).encode()))
    refused(layout.root, f"is {len(good)} bytes, its descriptor says {len(good) + 1}")


def test_other_malformed_layers(layout, contract):
    for layer, needle in ((b"\x28\xb5\x2f\xfd" + b"\0" * 64, "zstd-compressed"),
                          (b"\x1f\x8b" + b"garbage" * 10, "not a valid gzip stream"),
                          (gzip.compress(b"not a tar archive" * 100), "bad tar header"),
                          (tar_bytes([file_member(CONTRACT, contract)])[:-40], "not a valid gzip stream")):
        layout.index_of(layout.image([layer]))
        refused(layout.root, needle)
    # a whiteout in a later layer hides the file of the layers below
    below = tar_bytes([file_member(CONTRACT, contract)])
    above = tar_bytes([file_member("aster/.wh.manifest.json", b"")])
    layout.index_of(layout.image([below, above]))
    refused(layout.root, f"holds no /{CONTRACT}", code=4)
