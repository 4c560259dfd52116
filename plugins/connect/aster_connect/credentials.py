"""Check the credential files a connection will present, before dialling.

The runtime reads them only inside ``AsterClient.connect()``, where any fault
(a file that is not UTF-8, JSON that does not parse, a field of the wrong type)
surfaces as a failed connection. Read here first, each fault is bad input
(:class:`~aster_core.errors.UsageError`, exit 2) that names the file.

The files, as the runtime picks them (``aster/runtime.py``, ``AsterClient``):

- the identity file: ``identity=`` (``--rcan`` naming a TOML identity),
  else ``ASTER_IDENTITY_FILE``, else ``./.aster-identity`` when it exists. Its
  ``[node] secret_key`` becomes the node key; its ``[[peers]]`` entry named by
  the address (or the first ``role = "consumer"`` one) is the credential;
- otherwise the credential file: ``--rcan`` (JSON, or TOML with a consumer
  peer), else ``ASTER_ENROLLMENT_CREDENTIAL``.
"""

from __future__ import annotations

import base64
import binascii
import os
import string
import tomllib
from pathlib import Path
from typing import Any

from aster_core.errors import UsageError
from aster_core.files import load_credential_file, read_text

from .addresses import identity_path

HINT = "Pass the file `aster trust sign consumer --out` or `aster enroll node` wrote."
_HEX = set(string.hexdigits)


def _bad(path: Path, problem: str) -> UsageError:
    return UsageError(f"{path} is not usable as a credential: {problem}", HINT)


def _is_hex(value: Any, length: int | None = None) -> bool:
    return isinstance(value, str) and len(value) % 2 == 0 and set(value) <= _HEX and \
        (length is None or len(value) == length)


def check_entry(entry: Any, path: Path, where: str = "") -> None:
    """The fields the runtime turns into a consumer credential, each of the type it needs."""
    at = f"{where}: " if where else ""
    if not isinstance(entry, dict):
        raise _bad(path, f"{at}the credential is not an object")
    if not _is_hex(entry.get("root_pubkey"), 64):
        raise _bad(path, f"{at}root_pubkey must be 64 hex characters")
    expires = entry.get("expires_at")
    if isinstance(expires, bool) or not (isinstance(expires, int) or (isinstance(expires, str) and expires.isdigit())):
        raise _bad(path, f"{at}expires_at must be a whole number of seconds")
    for key in ("signature", "nonce"):
        if entry.get(key) not in (None, "") and not _is_hex(entry[key]):
            raise _bad(path, f"{at}{key} must be hex text")
    for key in ("credential_type", "type", "endpoint_id"):
        if entry.get(key) is not None and not isinstance(entry[key], str):
            raise _bad(path, f"{at}{key} must be text")
    attributes = entry.get("attributes", {})
    if not isinstance(attributes, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                   for k, v in attributes.items()):
        raise _bad(path, f"{at}attributes must be a table of text values")


def _toml(path: Path, text: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path} is neither a credential JSON nor an .aster-identity file ({exc})", HINT) from None


def _pick(peers: list, peer: str | None) -> dict | None:
    if peer is not None:
        return next((p for p in peers if p.get("name") == peer), None)
    return next((p for p in peers if p.get("role") == "consumer"), None)


def check_identity(path: Path, *, peer: str | None = None, data: dict | None = None) -> dict | None:
    """Check an identity file (TOML, or its ``data`` already read); returns the peer entry the
    runtime would present, if any."""
    if data is None:
        data = _toml(path, read_text(path, "identity file", HINT))
    node = data.get("node", {})
    if not isinstance(node, dict):
        raise _bad(path, "[node] must be a table")
    secret = node.get("secret_key")
    if secret is not None:
        try:
            ok = isinstance(secret, str) and len(base64.b64decode(secret, validate=True)) == 32
        except (binascii.Error, ValueError):
            ok = False
        if not ok:
            raise _bad(path, "[node] secret_key must be 32 bytes in base64")
    peers = data.get("peers", [])
    if not isinstance(peers, list) or not all(isinstance(p, dict) for p in peers):
        raise _bad(path, "[[peers]] must be a list of tables")
    entry = _pick(peers, peer)
    if entry is not None:
        check_entry(entry, path, f"peer {entry.get('name') or '(unnamed)'!r}")
    return entry


def credential_kind(path: Path) -> str:
    """``json`` or ``identity`` for a credential file, after checking every field the runtime reads."""
    kind, data = load_credential_file(path, "credential file", HINT)
    if kind == "json":
        check_entry(data, path)
        return "json"
    peers = data.get("peers")
    if not peers or not isinstance(peers, list):
        raise UsageError(f"{path} has no [[peers]] credential", "Enroll the node first: aster enroll node.")
    check_identity(path, data=data)
    return "identity"


def check_files(*, identity: str | None, peer: str | None, credential_file: str | None) -> None:
    """Check what ``AsterClient(identity=..., peer=..., enrollment_credential_file=...)`` will read."""
    ident = Path(identity).expanduser() if identity else identity_path()
    entry = None
    if identity or ident.exists():
        entry = check_identity(ident, peer=peer)
    if entry is not None:
        return
    chosen = credential_file or os.environ.get("ASTER_ENROLLMENT_CREDENTIAL", "").strip() or None
    if chosen and (credential_file or Path(chosen).expanduser().exists()):
        credential_kind(Path(chosen).expanduser())


def summary(entry: dict[str, Any]) -> dict[str, Any]:
    """What a credential says about its holder (``aster call -v``): type, bound endpoint, roles, expiry."""
    attributes = entry.get("attributes") if isinstance(entry.get("attributes"), dict) else {}
    roles = [r.strip() for r in str(attributes.get("aster.role", "")).split(",") if r.strip()]
    return {"type": entry.get("credential_type") or entry.get("type") or "?",
            "endpoint_id": entry.get("endpoint_id") or None, "roles": roles,
            "expires_at": entry.get("expires_at")}


def presented_entry(path: str | os.PathLike) -> dict[str, Any] | None:
    """The credential a file holds as the runtime presents it (a JSON credential, or the consumer
    peer of an identity file); ``None`` when it cannot be read (it was read fine to connect)."""
    try:
        kind, data = load_credential_file(Path(path).expanduser(), "credential file", HINT)
    except UsageError:
        return None
    if kind == "json":
        return data
    peers = data.get("peers")
    return _pick(peers, None) if isinstance(peers, list) else None
