"""What each ``aster trust`` command does, without click: arguments in, data (dicts) out.

Every input is validated before anything is written, so a bad flag never leaves a file
behind.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

from aster_core.durations import iso_utc, parse_expiry, to_epoch
from aster_core.errors import UsageError
from aster_core.files import check_new_file

from . import credentials, keys
from .attributes import parse_attributes

DEFAULT_EXPIRY = "30d"


def keygen_root(out: str | os.PathLike, *, force: bool = False) -> dict[str, Any]:
    key = keys.generate_root_key()
    path = keys.write_root_key(out, key, force=force)
    return {"key_file": str(path), "public_key": key.public_hex}


def keygen_pair(out_key: str | os.PathLike, *, force: bool = False) -> dict[str, Any]:
    """The docs' walkthrough form: the key pair at ``out_key`` and its public key beside it."""
    key = keys.generate_root_key()
    key_path, pub_path = keys.write_key_pair(out_key, key, force=force)
    return {"key_file": str(key_path), "public_key_file": str(pub_path), "public_key": key.public_hex}


def keygen_pubkey(key_file: str | os.PathLike | None, out: str | os.PathLike, *, profile: str | None = None,
                  force: bool = False) -> dict[str, Any]:
    """The public key of a key pair file, or (without one) of a profile as recorded in config.toml."""
    if key_file is not None:
        if profile is not None:
            raise UsageError("--in and --profile both name a root key", "give only one of them")
        public_key = keys.load_root_key_file(key_file).public_key
    else:
        public_key = keys.profile_public_key(profile)
    path = keys.write_public_key(out, public_key, force=force)
    return {"public_key_file": str(path), "public_key": public_key.hex()}


def home_file(name: str) -> str:
    """``<home>/NAME``, the home made (0700) if missing: the released 0.1.2 CLI's ``~/.aster/...``
    defaults."""
    from aster_core.home import ensure_home

    return str(ensure_home() / name)


def made_parent(path: str | os.PathLike) -> None:
    """Create the missing folders of ``path`` (0700), as the released 0.1.2 CLI did for its
    output files (its spellings, in :mod:`aster_trust.compat`, keep that)."""
    from aster_core.filemodes import private_dir

    try:
        private_dir(Path(path).expanduser().parent)
    except OSError:
        pass  # the writability check before writing names the folder and what is wrong


def keygen_profile_root(out: str | os.PathLike, *, profile: str | None = None) -> dict[str, Any]:
    """A profile's root key with a backup file (the 0.1.2 ``aster keygen root`` form).

    The key is made by ``aster profile create`` (private half in the keyring), then written
    to ``out`` with its public key beside it; both files must be new. A profile that exists
    keeps its key, and that key is what is written (``"created": False``): a second run never
    replaces a key, and 0.1.2's ``profile create NAME`` then ``keygen root --profile NAME``
    ends with the profile's key and its backup, as it did there. Where no keyring works the
    key goes to ``out`` only and no profile is made (``"profile": None``): pass the file as
    ``--root-key``.
    """
    from aster_core.errors import KeyringUnavailable
    from aster_core.home import ensure_home

    key_path = Path(out).expanduser()
    pub_path = keys.public_key_path_for(key_path)
    check_new_file(key_path, False)
    check_new_file(pub_path, False)
    name = _keygen_profile_name(profile)
    ensure_home()
    try:
        from aster_core import secrets

        secrets.backend()
    except KeyringUnavailable as exc:
        key = keys.generate_root_key()
        keys.write_key_pair(key_path, key)
        return {"key_file": str(key_path), "public_key_file": str(pub_path), "public_key": key.public_hex,
                "profile": None, "created": False, "keyring": None, "note": exc.message}
    from aster_core.errors import NotFoundError
    from aster_core.profiles import create_profile, get_profile

    try:
        get_profile(name)
        created = False
    except NotFoundError:
        create_profile(name)
        created = True
    key, _ = keys.root_key_from_keyring(name)  # checked against the profile's root_pubkey
    keys.write_key_pair(key_path, key)
    return {"key_file": str(key_path), "public_key_file": str(pub_path), "public_key": key.public_hex,
            "profile": name, "created": created, "keyring": f"service=aster user=root_privkey:{name}", "note": None}


def _keygen_profile_name(explicit: str | None) -> str:
    """``--profile``, the root option or ASTER_PROFILE, the active profile, else ``default``."""
    from aster_core.errors import NotFoundError
    from aster_core.profiles import selected_profile_name, validate_name

    try:
        return validate_name(selected_profile_name(explicit))
    except NotFoundError:
        return "default"


def keygen_node(out: str | os.PathLike) -> dict[str, Any]:
    """A producer node key file: JSON ``{"secret_key": <64 hex seed>, "node_id": <64 hex>}``.

    The node id (the EndpointId) is the seed's public key, computed offline.
    """
    from aster_core.files import atomic_write

    path = Path(out).expanduser()
    check_new_file(path, False)
    seed = os.urandom(32)
    node_id = keys.public_key_of(seed).hex()
    import json

    atomic_write(path, json.dumps({"secret_key": seed.hex(), "node_id": node_id}, indent=2) + "\n",
                 mode=0o600, exclusive=True)
    return {"key_file": str(path), "node_id": node_id}


def _check_output(out: str | os.PathLike | None, force: bool) -> Path | None:
    """Refuse an output path we would not be allowed to write, before signing anything."""
    if out is None:
        return None
    path = Path(out)
    check_new_file(path, force)
    return path


def sign(kind: str, *, root_key_file: str | None = None, profile: str | None = None,
         expires: str = DEFAULT_EXPIRY, attrs: Iterable[str] = (), endpoint_id: str | None = None,
         out: str | None = None, force: bool = False) -> dict[str, Any]:
    """Sign a producer, policy or ott credential; write it to ``out`` when given.

    Returns ``{"file": path or None, "credential": <file JSON object>, "source": ...}``.
    """
    attributes = parse_attributes(attrs)
    expires_at = to_epoch(parse_expiry(expires))
    if endpoint_id is not None:
        endpoint_id = keys.parse_endpoint_id(endpoint_id)
    path = _check_output(out, force)
    root, source = keys.resolve_root_key(root_key_file, profile)
    cred = credentials.sign(root, kind, expires_at=expires_at, attributes=attributes, endpoint_id=endpoint_id)
    if path is not None:
        from aster_core.files import atomic_write

        atomic_write(path, cred.to_json(), mode=0o600, exclusive=not force)
    return {"file": str(path) if path else None, "root_key": source, "expires": iso_utc(expires_at),
            "credential": cred.to_dict()}


def describe(cred: credentials.Credential, verification: credentials.Verification) -> dict[str, Any]:
    """Everything ``inspect`` and ``verify`` show about one credential."""
    return {
        "type": cred.type,
        "root_pubkey": cred.root_pubkey.hex(),
        "endpoint_id": cred.endpoint_id,
        "attributes": dict(cred.attributes),
        "roles": cred.roles(),
        "expires_at": cred.expires_at,
        "expires": iso_utc(cred.expires_at),
        "expired": verification.expired,
        "nonce": cred.nonce.hex() if cred.nonce is not None else None,
        "signature_valid": verification.signature,
        "root_trusted": verification.root,
        "binding_ok": verification.binding,
        "valid": verification.ok,
        "problems": verification.problems(),
    }


def inspect(path: str | os.PathLike, *, peer: str | None = None) -> dict[str, Any]:
    cred = credentials.load_credential(path, peer)
    return {"file": str(path), "peer": peer, **describe(cred, credentials.check(cred))}


def verify(path: str | os.PathLike, root_pubkey: str, *, peer: str | None = None,
           endpoint_id: str | None = None) -> dict[str, Any]:
    """Check signature, trusted root, expiry (and binding, when ``endpoint_id`` is given)."""
    trusted = keys.load_public_key(root_pubkey)
    cred = credentials.load_credential(path, peer)
    result = credentials.check(cred, trusted_root=trusted, endpoint_id=endpoint_id)
    return {"file": str(path), "peer": peer, "trusted_root": trusted.hex(), **describe(cred, result)}
