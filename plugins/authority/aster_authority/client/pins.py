"""Pins: the last head of each deployment's decision chain this machine verified, per authority
root key, so an authority cannot roll its decisions back (or fork them) unnoticed.

One file, ``<aster home>/authority/pins.json`` (0600, in a 0700 folder, written atomically
under a lock)::

    {"format": 1, "pins": {"<root public key hex>": {"<deployment id>":
        {"seq": 12, "hash": "<record hash>", "verified_at": 1765000000}}}}

A chain *extends* a pin when it reaches the pinned ``seq`` and its record there has the
pinned hash (the records are hash-linked, so everything before matches too). Anything else
stops reconcile (:class:`PinMismatch`): a **rollback** (the chain ends before the pin: an
older backup restored, or newer records hidden) or a **fork** (a record at the pinned
``seq`` with another hash: history rewritten). A pin only moves forward.

What a pin cannot show: records this machine never saw. An authority that hides decisions
made after our last look is caught only by the admin whose decision it hides (their CLI
pins the head their own decision made).
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from aster_core.errors import AsterError, ExitCode

from ..domain.decisions import Head

FORMAT = 1
FILE_NAME = "pins.json"


def shown(head: Head) -> str:
    return f"seq {head.seq} ({head.hash[:16]}...)" if head.hash else f"seq {head.seq}"


class PinMismatch(AsterError):
    """The authority's chain does not extend the head this machine verified before."""

    def __init__(self, message: str, hint: str, *, kind: str, pinned: Head, found: Head | None):
        super().__init__(message, hint, exit_code=ExitCode.FAILED)
        self.kind, self.pinned, self.found = kind, pinned, found


def pin_file() -> Path:
    from aster_core.home import aster_home

    return aster_home() / "authority" / FILE_NAME


def _read(path: Path) -> dict[str, Any]:
    from aster_core.files import load_json

    if not path.exists():
        return {"format": FORMAT, "pins": {}}
    doc = load_json(path, "the authority pin file", f"move {path} aside only if you trust every authority again "
                    "from scratch: it holds the heads this machine verified")
    if not isinstance(doc, dict) or not isinstance(doc.get("pins"), dict):
        raise AsterError(f"{path} is not a pin file", f"move {path} aside (it holds the decision-chain heads this "
                         "machine verified; without it the next reconcile trusts the chain it finds)",
                         exit_code=ExitCode.USAGE)
    return doc


def _entry(doc: dict[str, Any], root_hex: str, chain_id: str, path: Path) -> Head | None:
    """The pin of ``chain_id`` under ``root_hex`` in ``doc``; a damaged entry is an error (never
    read as "no pin": that would switch the check off)."""
    per_root = doc["pins"].get(root_hex, {})
    entry = per_root.get(chain_id) if isinstance(per_root, dict) else per_root
    if entry is None:
        return None
    if (not isinstance(entry, dict) or isinstance(entry.get("seq"), bool) or not isinstance(entry.get("seq"), int)
            or not isinstance(entry.get("hash"), str)):
        raise AsterError(f"{path}: the pin of {chain_id} is damaged", f"restore {path}, or delete that entry only if "
                         "you trust the authority's chain of it again from scratch", exit_code=ExitCode.USAGE)
    return Head(entry["seq"], entry["hash"])


def pinned(root_hex: str, deployment_id: str) -> Head | None:
    """The head pinned for ``deployment_id`` under the authority root ``root_hex``, if any."""
    path = pin_file()
    return _entry(_read(path), root_hex, deployment_id, path)


def check_extends(pin: Head | None, head: Head | None, hash_at: Callable[[int], str | None], *, ref: str,
                  authority: str = "the authority") -> None:
    """Raise :class:`PinMismatch` unless the chain whose head is ``head`` (None: no record at
    all) and whose record hashes ``hash_at(seq)`` gives, extends ``pin``. ``ref`` names the
    deployment (``svc/payments``) in the message."""
    if pin is None:
        return
    family, _, deployment = ref.partition("/")
    where = f"`aster {family} {deployment} authority log`" if deployment else "`aster authority admins list`"
    found = shown(head) if head is not None else "no record at all"
    if head is None or head.seq < pin.seq:
        raise PinMismatch(
            f"rollback: {authority}'s decision chain of {ref} ends at {found}, but this machine verified it up to "
            f"{shown(pin)}; nothing was signed",
            f"the authority lost or hides decisions (a database restored from an older backup, or tampered with): "
            f"compare {where} with the admins' records before trusting it; if it was restored on purpose and every "
            f"admin agrees, delete the entry of {ref} in {pin_file()}",
            kind="rollback", pinned=pin, found=head)
    at = hash_at(pin.seq)
    if at != pin.hash:
        there = f"seq {pin.seq} ({at[:16]}...)" if at else f"no record at seq {pin.seq}"
        raise PinMismatch(
            f"fork: {authority}'s decision chain of {ref} (head {found}) has {there} where this machine verified "
            f"{shown(pin)}; nothing was signed",
            f"the authority rewrote its history: compare {where} with the admins' records and find out who changed "
            f"it before trusting it; if every admin agrees the new history is right, delete the entry of {ref} in "
            f"{pin_file()}",
            kind="fork", pinned=pin, found=head)


def advance(root_hex: str, deployment_id: str, head: Head, hash_at: Callable[[int], str | None], *,
            ref: str, now: int | None = None) -> Head:
    """Pin ``head`` (a chain this process verified, whose record hashes ``hash_at`` gives) for
    ``deployment_id``. Under the file's lock the stored pin is checked again: a chain that
    does not extend it raises :class:`PinMismatch`; a pin another process moved past ``head``
    meanwhile is kept (a pin never moves back)."""
    with _locked_pin(root_hex, deployment_id) as (stored, store):
        if stored is not None and stored.seq > head.seq:
            return stored  # another reconcile pinned a later head meanwhile: a pin never moves back
        check_extends(stored, head, hash_at, ref=ref)
        store(head, now)
    return head


def record_own(root_hex: str, chain_id: str, head: Head, *, now: int | None = None) -> None:
    """Pin the head a decision signed on this machine made (its record at ``head.seq``, with the
    hash ``head.hash``), so an authority that later drops or rewrites that decision is caught
    here as a rollback or fork. The chain before it is not verified here, so this only moves a
    pin forward (a pin further on is kept)."""
    with _locked_pin(root_hex, chain_id) as (stored, store):
        if stored is not None and stored.seq >= head.seq:
            return
        store(head, now)


@contextmanager
def _locked_pin(root_hex: str, chain_id: str) -> Iterator[tuple[Head | None, Callable[[Head, int | None], None]]]:
    """The pin file under its lock for one read, check and write: yields the stored pin of
    ``chain_id`` under ``root_hex`` (None: none yet) and ``store(head, now)``, which writes a new
    one. The lock spans the check, so two processes cannot both move the pin from what they read."""
    from aster_core.filemodes import private_dir
    from aster_core.files import locked

    path = pin_file()
    private_dir(path.parent)
    with locked(path):
        doc = _read(path)
        stored = _entry(doc, root_hex, chain_id, path)
        per_root = doc["pins"].setdefault(root_hex, {})
        yield stored, lambda head, now: _write(path, doc, per_root, chain_id, head, now)


def _write(path: Path, doc: dict[str, Any], per_root: dict[str, Any], chain_id: str, head: Head,
           now: int | None) -> None:
    """Store ``head`` for ``chain_id`` (the caller holds the file's lock)."""
    from aster_core.files import atomic_write

    per_root[chain_id] = {"seq": head.seq, "hash": head.hash, "verified_at": int(time.time()) if now is None else now}
    doc["format"] = FORMAT
    atomic_write(path, json.dumps(doc, indent=2, sort_keys=True) + "\n", mode=0o600)
