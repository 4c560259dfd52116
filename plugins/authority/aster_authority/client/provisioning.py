"""``aster dev ID provision`` on the operator's machine, without click: keys, signed
credentials, bundles and registration.

Provisioning signs here (keyring or ``--root-key FILE``, as ``svc provision``) and sends the
authority each device's public key, its activation key, metadata and the signed credential,
never the root secret: that goes only into the bundle (0600).

**No secret is lost to an unknown outcome.** A batch's bundles are written before its
registration call. They are deleted only when the authority's answer refuses the call (each
registration is one transaction, so a refusal changed nothing). When no answer comes (the
timeout, a lost connection, Ctrl-C) the device may be registered or not: the bundles are kept
and :class:`OutcomeUnknown` says how to find out (``aster dev ID instances``) and how to
finish: ``provision --from-bundles PATH`` registers the devices of existing bundles, and the
authority answers a device already registered with the same bundle as ``already`` and leaves
it as it is, so running it again is always safe.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, NamedTuple

from aster_core.errors import AsterError, ExitCode, UsageError

from .. import wire as w
from ..domain import devices
from ..domain.bodies import devices_body
from ..domain.decisions import Head, record_hash
from ..domain.ids import DEVICE, instance_id_for
from ..domain.replay import DEVICE_REGISTER
from .activation import read_bundle
from .bundles import BUNDLE_SUFFIX, INDEX_FILE, bundle_files, write_index_of
from .connection import Authority, refused
from .pipeline import Pipeline, batches_of
from .root_key import root_for
from .signer import chain_head, decide

MAX_COUNT = 100_000
#: new devices a registration call carries (:func:`_step`)
PIPELINE_BATCH = 250


class Device(NamedTuple):
    """One device to register: its keys, metadata, instance id and bundle file."""

    keys: devices.DeviceKeys
    metadata: dict[str, str]
    instance_id: str
    bundle: Path


class OutcomeUnknown(AsterError):
    """No answer to a registration: its devices may or may not be registered; their bundles
    are kept (``kept``)."""

    def __init__(self, message: str, hint: str, kept: list[Path], *, exit_code: int):
        super().__init__(message, hint, exit_code=exit_code)
        self.kept = kept


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
                    count: int | None = None, out_dir: str | os.PathLike | None = None, force: bool = False,
                    from_bundles: str | os.PathLike | None = None) -> None:
    """The options of :func:`provision` that cannot work together, refused before any network."""
    if from_bundles is not None:
        given = [flag for flag, value in (("--name", name), ("--serial-number", serial_number),
                                          ("--model-number", model_number), ("--metadata", metadata),
                                          ("--out", out), ("--count", count), ("--out-dir", out_dir),
                                          ("--force", force)) if value]
        if given:
            raise UsageError(f"--from-bundles takes the devices and their metadata from the bundles: drop "
                             f"{', '.join(given)}", "aster dev ID provision --from-bundles PATH (a bundle or a "
                             "directory of them)")
        return
    batch = count is not None or out_dir is not None
    if batch and (count is None or out_dir is None):
        raise UsageError("--count and --out-dir go together", "e.g. --count 100 --out-dir bundles/")
    if batch and out is not None:
        raise UsageError("--out names one bundle; --count writes into --out-dir", "drop --out, or drop --count")
    if count is not None and not 1 <= count <= MAX_COUNT:
        raise UsageError(f"--count {count} is not between 1 and {MAX_COUNT}", "provision in several runs")
    if batch and serial_number and count != 1:
        raise UsageError("--serial-number names one device", "drop it with --count, or provision devices one by one")
    _batch_metadata(dict(metadata or {}), name, serial_number, model_number, 0, count or 1)


def provision(auth: Authority, deployment_id: str, *, name: str | None = None, serial_number: str | None = None,
              model_number: str | None = None, metadata: dict[str, str] | None = None,
              out: str | os.PathLike | None = None, count: int | None = None, out_dir: str | os.PathLike | None = None,
              force: bool = False, from_bundles: str | os.PathLike | None = None, root_key_file: str | None = None,
              profile: str | None = None, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Provision one device (bundle at ``out``), ``count`` devices (one bundle each in ``out_dir``
    and ``index.csv``), or register the devices of existing bundles (``from_bundles``: a bundle or
    a directory of them). Each batch of up to 500 devices is one registration call, all or none."""
    from aster_core.files import check_new_file

    check_provision(name=name, serial_number=serial_number, model_number=model_number, metadata=metadata, out=out,
                    count=count, out_dir=out_dir, force=force, from_bundles=from_bundles)
    if from_bundles is not None:
        return _from_bundles(auth, deployment_id, Path(from_bundles), root_key_file, profile, progress)
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
    template = backed_template(auth, deployment_id, auth.call(w.DEVICE_ADMIN, "template", w.DeviceRef(deployment_id)))
    root = root_for(template["root_pubkey"], root_key_file, profile)
    if directory is not None and index_path is not None and not directory.is_dir():
        try:  # made only once the authority and the root key are known to work
            directory.mkdir(parents=True)
        except OSError as exc:
            raise UsageError(f"cannot make {directory}: {exc.strerror or exc}", "give a directory you may write to") \
                from None
        check_new_file(index_path, force)

    done: list[dict[str, Any]] = []
    step = _step(template, pipelined=True)

    def prepare(numbers: range) -> Prepared:
        made = _new_devices(base, name, serial_number, model_number, numbers, total,
                            Path(out) if not batch and out else None, directory, force)
        return _write_and_sign(auth, deployment_id, template, root, made, force)

    try:
        with Pipeline(prepare, batches_of(total, step)) as batches:
            head = chain_head(auth, deployment_id, kind=DEVICE)  # while the first batch is made
            for ready in batches:
                registered, head = _register(auth, deployment_id, ready.made, ready.docs, discard=ready.written,
                                             head=head)
                done += registered
                if progress:
                    progress(len(done), total)
    except OutcomeUnknown as exc:
        write_index_of(index_path, done)
        where = f"{exc.kept[0]}" if not batch else f"{directory}"
        first = len(done) + 1
        which = "the device" if not batch else f"devices {first}-{first + len(exc.kept) - 1} of {total}"
        before = f"; the {len(done)} registered before are in {INDEX_FILE}" if done else ""
        rest = total - len(done) - len(exc.kept)
        then = f", then provision the remaining {rest}" if rest else ""
        raise OutcomeUnknown(f"no answer from the authority registering {which} ({exc.message}): "
                             f"{'it' if not batch else 'they'} may or may not be registered; "
                             f"{'its bundle is' if not batch else 'their bundles are'} kept in {where}{before}",
                             _resume_hint(deployment_id, where, batch) + then, exc.kept,
                             exit_code=exc.exit_code) from None
    except AsterError as exc:
        if not done:
            raise
        write_index_of(index_path, done)
        raise AsterError(f"{exc.message} (after {len(done)} of {total} devices were registered; their bundles "
                         f"and {INDEX_FILE} are in {out_dir})", exc.hint, exit_code=exc.exit_code) from None
    if index_path is not None:
        write_index_of(index_path, done)
    result: dict[str, Any] = {"deployment_id": deployment_id, "review_mode": template["review_mode"],
                              "attributes": template["attributes"], "devices": done}
    if index_path is not None:
        result["index"] = str(index_path)
    return result


def _resume_hint(deployment_id: str, where: str | Path, many: bool) -> str:
    return (f"check with `aster dev {deployment_id} instances{' --all' if many else ''}`; "
            f"`aster dev {deployment_id} provision --from-bundles {where}` registers "
            f"{'every device there that is' if many else 'it if it is'} not (safe to run again: a device already "
            "registered with the same bundle is left as it is)")


def backed_template(auth: Authority, deployment_id: str, template: dict[str, Any]) -> dict[str, Any]:
    """``template`` once the verified decisions back it (:func:`.chain.check_template`: else
    nothing is signed), its expiry capped by ``[authority] max_credential_ttl``. A device's
    credential does not depend on its endpoint, so one probe endpoint stands for every device."""
    import time

    from .chain import check_template

    probe = devices.generate().endpoint_id
    expires_at = check_template(auth, DEVICE, deployment_id, template, action=DEVICE_REGISTER,
                                body=devices_body([probe]), endpoint_id=probe, now=int(time.time()))
    return {**template, "expires_at": expires_at}


def _step(template: dict[str, Any], *, pipelined: bool = False) -> int:
    """Devices a registration call carries: the authority's ``max_batch``; new devices at most
    :data:`PIPELINE_BATCH`, so there are batches enough for the signing of the next to hide
    behind the registration of the last."""
    most = max(1, min(w.MAX_LIMIT, int(template.get("max_batch") or w.MAX_LIMIT)))
    return min(most, PIPELINE_BATCH) if pipelined else most


def _new_devices(base: dict[str, str], name: str | None, serial: str | None, model: str | None, numbers: range,
                 total: int, out: Path | None, directory: Path | None, force: bool) -> list[Device]:
    from aster_core.files import check_new_file

    made = []
    for n in numbers:
        keys = devices.generate()
        iid = instance_id_for(keys.endpoint_id, DEVICE)
        path = out if out is not None else (directory or Path(".")) / f"{iid}{BUNDLE_SUFFIX}"
        made.append(Device(keys, _batch_metadata(base, name, serial, model, n, total), iid, path))
    if out is not None:
        check_new_file(out, force)
    return made


def _signed(keys: devices.DeviceKeys, root: Any, template: dict[str, Any], metadata: dict[str, str]) -> str:
    from aster_trust import credentials

    cred = credentials.sign(root, template["type"], expires_at=template["expires_at"],
                            attributes=template["attributes"], endpoint_id=keys.endpoint_id)
    return json.dumps({"endpoint_id": keys.endpoint_id, "activation_key": devices.b64url(keys.activation_key),
                       "metadata": metadata, "credential": cred.to_dict()})


class Prepared(NamedTuple):
    """A batch ready to register: its devices, their signed documents, the bundles written."""

    made: list[Device]
    docs: list[str]
    written: list[Path]


def _write_and_sign(auth: Authority, deployment_id: str, template: dict[str, Any], root: Any,
                    made: list[Device], force: bool) -> Prepared:
    """Write the bundles of new devices (durably: :mod:`.bundles`) and sign their credentials
    while the disk flushes them; nothing is sent before both are done, so a failure of either
    leaves nothing behind (the writer removes what it wrote when anything fails).

    The signing runs on this thread between writing the files and waiting for the disk, not
    beside the writing: while a thread of this process computes, every system call of another
    (a file created, written, named) waits for the interpreter's lock (measured: 1,000 files
    created in 1.2-1.3 s beside a busy thread, 0.13 s alone)."""
    from .bundles import write_bundles

    texts = [(d.bundle, devices.bundle_json(devices.bundle_document(
        d.keys, authority=auth.address, deployment_id=deployment_id, instance_id=d.instance_id,
        metadata=d.metadata))) for d in made]
    docs: list[str] = []
    written = write_bundles(texts, replace=force,
                            meanwhile=lambda: docs.extend(_signed(d.keys, root, template, d.metadata) for d in made))
    return Prepared(made, docs, written)


def _register(auth: Authority, deployment_id: str, made: list[Device], docs: list[str], *,
              discard: list[Path], head: Head | None = None) -> tuple[list[dict[str, Any]], Head]:
    """One registration call; ``discard`` (bundles this run wrote) is deleted only when the
    authority's answer refuses it. ``head``: the chain's head after this run's last registration
    (saves asking for it; another admin's decision in between only costs a retry). Returns the
    devices and the head after this registration's own record."""
    sent: list[str] = []

    def send(record: str) -> Any:
        sent.append(record)
        return auth.call(w.DEVICE_ADMIN, "register", w.RegisterDevices(deployment_id, docs, record))

    try:
        body = devices_body([d.keys.endpoint_id for d in made])
        answer = decide(auth, deployment_id, DEVICE_REGISTER, body, send, kind=DEVICE, head=head)
    except BaseException as exc:
        if refused(exc):
            for path in discard:
                path.unlink(missing_ok=True)
            raise
        why = exc.message if isinstance(exc, AsterError) else ("interrupted" if isinstance(exc, KeyboardInterrupt)
                                                               else type(exc).__name__)
        code = ExitCode.INTERRUPTED if isinstance(exc, KeyboardInterrupt) else \
            getattr(exc, "exit_code", ExitCode.UNAVAILABLE)
        kept = [d.bundle for d in made]
        raise OutcomeUnknown(why, _resume_hint(deployment_id, kept[0], False), kept, exit_code=code) from None
    by_endpoint = {r["endpoint_id"]: r for r in answer["registered"]}
    out = []
    for d in made:
        r = by_endpoint.get(d.keys.endpoint_id, {})
        out.append({"instance_id": d.instance_id, "endpoint_id": d.keys.endpoint_id, "metadata": d.metadata,
                    "bundle": str(d.bundle), "expires_at": r.get("expires_at"), "already": bool(r.get("already"))})
    record = json.loads(sent[-1])  # the one the authority took: it answered the last send
    return out, Head(record["seq"], record_hash(record), record["decided_at"])


# ── registering existing bundles ─────────────────────────────────────────────────


def _from_bundles(auth: Authority, deployment_id: str, path: Path, root_key_file: str | None,
                  profile: str | None, progress: Callable[[int, int], None] | None) -> dict[str, Any]:
    files, many = bundle_files(path, MAX_COUNT)
    made = []
    for f in files:
        bundle = read_bundle(f)
        if bundle.deployment_id != deployment_id:
            raise UsageError(f"{f} is a bundle of dev/{bundle.deployment_id}, not dev/{deployment_id}",
                             f"register it with `aster dev {bundle.deployment_id} provision --from-bundles {f}`")
        iid = instance_id_for(bundle.keys.endpoint_id, DEVICE)
        made.append(Device(bundle.keys, devices.check_metadata(bundle.metadata, f"{f}: metadata"), iid, f))
    template = backed_template(auth, deployment_id, auth.call(w.DEVICE_ADMIN, "template", w.DeviceRef(deployment_id)))
    root = root_for(template["root_pubkey"], root_key_file, profile)
    done: list[dict[str, Any]] = []
    step = _step(template)
    head = None
    try:
        for start in range(0, len(made), step):
            chunk = made[start:start + step]
            registered, head = _register(auth, deployment_id, chunk, [_signed(d.keys, root, template, d.metadata)
                                                                      for d in chunk], discard=[], head=head)
            done += registered
            if progress:
                progress(len(done), len(made))
    except OutcomeUnknown as exc:
        raise OutcomeUnknown(f"no answer from the authority registering the devices of {path} ({exc.message}): "
                             f"{len(done)} of {len(made)} are registered, the others may or may not be",
                             _resume_hint(deployment_id, path, many), exc.kept, exit_code=exc.exit_code) from None
    result: dict[str, Any] = {"deployment_id": deployment_id, "review_mode": template["review_mode"],
                              "attributes": template["attributes"], "devices": done,
                              "already": sum(1 for d in done if d["already"])}
    if many:
        index_path = path / INDEX_FILE
        write_index_of(index_path, done)
        result["index"] = str(index_path)
    return result
