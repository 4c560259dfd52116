"""What the device commands of ``aster dev`` do on the operator's machine, without click:
provisioning (keys, signed credentials, bundles, registration) and the admin and reviewer
calls for devices, activations and reviews.

Deployment-level work (create, show, apply, plans, accept, reconcile, disable, remove) is
:mod:`.deployments` and :mod:`.signing` with ``kind="device"``; only what is device-specific
is here, and what the device itself runs is :mod:`.activation`.

Provisioning signs on this machine (keyring or ``--root-key FILE``, as ``svc provision``)
and sends the authority the device's public key, its activation key, metadata and the
signed credential, never the root secret: that goes only into the bundle (0600).
"""

from __future__ import annotations

import csv
import io
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable

from aster_core.errors import AsterError, DeniedError, UsageError

from .. import wire as w
from ..domain import devices
from ..domain.ids import DEVICE, instance_id_for
from . import deployments
from .connection import Authority
from .signing import root_for

INDEX_FILE = "index.csv"
INDEX_COLUMNS = ("instance_id", "endpoint_id", "name", "serial_number", "model_number", "bundle")
#: bundle files written at once (each write waits on its fsyncs; the threads overlap them)
WRITERS = 8


def create(auth: Authority, deployment_id: str, *, review_mode: str = "none",
           roles: Iterable[str] = ()) -> dict[str, Any]:
    return deployments.create(auth, deployment_id, kind=DEVICE, review_mode=review_mode, roles=roles)


def _page(auth: Authority, service: str, method: str, deployment_id: str, *, instance_id: str | None = None,
          state: str | None = None, limit: int = w.DEFAULT_LIMIT, all_pages: bool = False) -> dict[str, Any]:
    return auth.pages(service, method, w.DevicePage(deployment_id, instance_id or "", state or ""), limit=limit,
                      all_pages=all_pages)


def instances(auth: Authority, deployment_id: str, *, state: str | None = None, limit: int = w.DEFAULT_LIMIT,
              all_pages: bool = False) -> dict[str, Any]:
    return _page(auth, w.DEVICE_ADMIN, "instances", deployment_id, state=state, limit=limit, all_pages=all_pages)


def activations(auth: Authority, deployment_id: str, *, instance_id: str | None = None, state: str | None = None,
                limit: int = w.DEFAULT_LIMIT, all_pages: bool = False) -> dict[str, Any]:
    return _page(auth, w.DEVICE_ADMIN, "activations", deployment_id, instance_id=instance_id, state=state, limit=limit,
                 all_pages=all_pages)


def revoke(auth: Authority, deployment_id: str, instance_id: str) -> dict[str, Any]:
    return auth.call(w.DEVICE_ADMIN, "revoke", w.DeviceInstance(deployment_id, instance_id))


def _as_reviewer(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except DeniedError as exc:
        if "authority.admin" not in exc.message:
            raise
        raise DeniedError("the authority refused: this credential holds neither authority.admin nor "
                          "authority.review", "pass --rcan FILE with an admin or reviewer credential (aster enroll "
                          "node --role consumer --name reviewer --capabilities authority.review)") from None


def reviews(auth: Authority, deployment_id: str, *, instance_id: str | None = None, state: str | None = None,
            limit: int = w.DEFAULT_LIMIT, all_pages: bool = False) -> dict[str, Any]:
    return _as_reviewer(lambda: _page(auth, w.DEVICE_REVIEW, "reviews", deployment_id, instance_id=instance_id,
                                      state=state, limit=limit, all_pages=all_pages))


def decide(auth: Authority, deployment_id: str, review_id: str, decision: str, *,
           reason: str | None = None) -> dict[str, Any]:
    return _as_reviewer(lambda: auth.call(w.DEVICE_REVIEW, "decide", w.ReviewDecision(deployment_id, review_id,
                                                                                     decision, reason or "")))


# ── provisioning (operator's machine) ────────────────────────────────────────────


def _signed(keys: devices.DeviceKeys, root: Any, template: dict[str, Any], metadata: dict[str, str]) -> dict[str, Any]:
    from aster_trust import credentials

    cred = credentials.sign(root, template["type"], expires_at=template["expires_at"],
                            attributes=template["attributes"], endpoint_id=keys.endpoint_id)
    return {"endpoint_id": keys.endpoint_id, "activation_key": devices.b64url(keys.activation_key),
            "metadata": metadata, "credential": cred.to_dict()}


def _batch_metadata(base: dict[str, str], name: str | None, serial: str | None, model: str | None, n: int,
                    count: int) -> dict[str, str]:
    meta = dict(base)
    if name:
        meta["name"] = name if count == 1 else f"{name}-{n + 1:0{len(str(count))}d}"
    if serial:
        meta["serial_number"] = serial
    if model:
        meta["model_number"] = model
    return devices.check_metadata(meta)


def check_provision(*, name: str | None = None, serial_number: str | None = None, model_number: str | None = None,
                    metadata: dict[str, str] | None = None, out: str | os.PathLike | None = None,
                    count: int | None = None, out_dir: str | os.PathLike | None = None) -> None:
    """The options of :func:`provision` that cannot work together, refused before any network."""
    batch = count is not None or out_dir is not None
    if batch and (count is None or out_dir is None):
        raise UsageError("--count and --out-dir go together", "e.g. --count 100 --out-dir bundles/")
    if batch and out is not None:
        raise UsageError("--out names one bundle; --count writes into --out-dir", "drop --out, or drop --count")
    if count is not None and not 1 <= count <= 100_000:
        raise UsageError(f"--count {count} is not between 1 and 100000", "provision in several runs")
    if batch and serial_number and count != 1:
        raise UsageError("--serial-number names one device", "drop it with --count, or provision devices one by one")
    _batch_metadata(dict(metadata or {}), name, serial_number, model_number, 0, count or 1)


def provision(auth: Authority, deployment_id: str, *, name: str | None = None, serial_number: str | None = None,
              model_number: str | None = None, metadata: dict[str, str] | None = None,
              out: str | os.PathLike | None = None, count: int | None = None, out_dir: str | os.PathLike | None = None,
              force: bool = False, root_key_file: str | None = None, profile: str | None = None,
              progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Provision one device (bundle at ``out``) or ``count`` devices (one bundle each in ``out_dir``
    and ``index.csv``). Each batch of up to 500 devices is one registration call, all or none."""
    from aster_core.files import check_new_file

    check_provision(name=name, serial_number=serial_number, model_number=model_number, metadata=metadata, out=out,
                    count=count, out_dir=out_dir)
    batch = count is not None
    total = count or 1
    base = dict(metadata or {})
    directory: Path | None = None
    index_path: Path | None = None
    if batch:
        directory = Path(out_dir)  # type: ignore[arg-type]
        if directory.exists() and not directory.is_dir():
            raise UsageError(f"{directory} is not a directory", "give --out-dir a directory (made if missing)")
        index_path = directory / INDEX_FILE
        if directory.is_dir():
            check_new_file(index_path, force)
    template = auth.call(w.DEVICE_ADMIN, "template", w.DeviceRef(deployment_id))
    root = root_for(template["root_pubkey"], root_key_file, profile)
    if directory is not None and index_path is not None and not directory.is_dir():
        try:  # made only once the authority and the root key are known to work
            directory.mkdir(parents=True)
        except OSError as exc:
            raise UsageError(f"cannot make {directory}: {exc.strerror or exc}", "give a directory you may write to") \
                from None
        check_new_file(index_path, force)

    done: list[dict[str, Any]] = []
    step = min(w.MAX_LIMIT, int(template.get("max_batch") or w.MAX_LIMIT))
    try:
        for start in range(0, total, step):
            chunk = _provision_chunk(auth, deployment_id, template, root, base, name, serial_number, model_number,
                                     range(start, min(total, start + step)), total,
                                     Path(out) if not batch and out else None, directory, force)
            done += chunk
            if progress:
                progress(len(done), total)
    except AsterError as exc:
        if not done:
            raise
        _write_index(index_path, done)
        raise AsterError(f"{exc.message} (after {len(done)} of {total} devices were registered; their bundles "
                         f"and {INDEX_FILE} are in {out_dir})", exc.hint, exit_code=exc.exit_code) from None
    if index_path is not None:
        _write_index(index_path, done)
    result: dict[str, Any] = {"deployment_id": deployment_id, "review_mode": template["review_mode"],
                              "attributes": template["attributes"], "devices": done}
    if index_path is not None:
        result["index"] = str(index_path)
    return result


def _provision_chunk(auth: Authority, deployment_id: str, template: dict[str, Any], root: Any, base: dict[str, str],
                     name: str | None, serial: str | None, model: str | None, numbers: range, total: int,
                     out: Path | None, directory: Path | None, force: bool) -> list[dict[str, Any]]:
    from aster_core.files import atomic_write, check_new_file

    made = []
    for n in numbers:
        keys = devices.generate()
        meta = _batch_metadata(base, name, serial, model, n, total)
        iid = instance_id_for(keys.endpoint_id, DEVICE)
        path = out if out is not None else (directory or Path(".")) / f"{iid}.bundle.json"
        made.append((keys, meta, iid, path))
    if out is not None:
        check_new_file(out, force)
    written: list[Path] = []

    def write(item: tuple[devices.DeviceKeys, dict[str, str], str, Path]) -> None:
        keys, meta, iid, path = item
        doc = devices.bundle_document(keys, authority=auth.address, deployment_id=deployment_id, instance_id=iid,
                                      metadata=meta)
        existed = path.exists()
        atomic_write(path, devices.bundle_json(doc), mode=0o600, exclusive=not force)
        if not existed:
            written.append(path)

    try:
        # bundles first (a file we cannot write registers nothing); their fsyncs overlap in threads,
        # and the signing happens meanwhile
        with ThreadPoolExecutor(WRITERS) as pool:
            futures = [pool.submit(write, item) for item in made]
            docs = [json.dumps(_signed(keys, root, template, meta)) for keys, meta, _, _ in made]
            for future in futures:
                future.result()
        answer = auth.call(w.DEVICE_ADMIN, "register", w.RegisterDevices(deployment_id, docs))
    except BaseException:
        for path in written:  # nothing registered: leave nothing behind
            path.unlink(missing_ok=True)
        raise
    expires = {r["endpoint_id"]: r["expires_at"] for r in answer["registered"]}
    return [{"instance_id": iid, "endpoint_id": keys.endpoint_id, "metadata": meta, "bundle": str(path),
             "expires_at": expires.get(keys.endpoint_id)} for keys, meta, iid, path in made]


def _write_index(path: Path | None, done: list[dict[str, Any]]) -> None:
    if path is None:
        return
    from aster_core.files import atomic_write

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(INDEX_COLUMNS)
    for d in done:
        m = d["metadata"]
        writer.writerow([d["instance_id"], d["endpoint_id"], m.get("name", ""), m.get("serial_number", ""),
                         m.get("model_number", ""), Path(d["bundle"]).name])
    atomic_write(path, buf.getvalue(), mode=0o600)
