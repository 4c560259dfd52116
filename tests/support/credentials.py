"""Root keys and consumer credentials for trusted-mode tests, made with the runtime's
own signing helpers (``aster.trust``), so they are independent of our implementation.

Files are written in the formats docs/file-formats.md describes: root key pair JSON
``{"private_key", "public_key"}``, public key file as bare hex, consumer credential
JSON with ``type``/``root_pubkey``/``expires_at``/``attributes``/``endpoint_id``/
``nonce``/``signature``.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RootKey:
    private_key: bytes
    public_key: bytes
    key_file: Path
    pubkey_file: Path

    @property
    def public_hex(self) -> str:
        return self.public_key.hex()


def make_root_key(directory: str | os.PathLike[str], name: str = "root") -> RootKey:
    """Generate a root key pair with ``aster.trust.generate_root_keypair``.

    Writes ``<name>.key`` (JSON pair, mode 0600) and ``<name>.pub`` (bare hex).
    """
    from aster.trust import generate_root_keypair

    priv, pub = generate_root_keypair()
    directory = Path(directory)
    key_file = directory / f"{name}.key"
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"private_key": priv.hex(), "public_key": pub.hex()}, fh)
    pubkey_file = directory / f"{name}.pub"
    pubkey_file.write_text(pub.hex() + "\n")
    return RootKey(priv, pub, key_file, pubkey_file)


def sign_consumer_credential(
    root: RootKey,
    out: str | os.PathLike[str],
    *,
    attributes: dict[str, str] | None = None,
    credential_type: str = "policy",
    endpoint_id: str | None = None,
    expires_at: int | None = None,
    signing_key: bytes | None = None,
) -> Path:
    """Sign a consumer credential with ``aster.trust.sign_credential``; write it as JSON.

    ``signing_key`` signs with another private key while still naming ``root``'s
    public key (a forged credential the server must refuse). An ``ott`` credential
    gets a fresh 32-byte nonce.
    """
    from aster.trust import ConsumerEnrollmentCredential, sign_credential

    cred = ConsumerEnrollmentCredential(
        credential_type=credential_type,  # type: ignore[arg-type]
        root_pubkey=root.public_key,
        expires_at=int(time.time()) + 3600 if expires_at is None else expires_at,
        attributes=dict(attributes or {}),
        endpoint_id=endpoint_id,
        nonce=secrets.token_bytes(32) if credential_type == "ott" else None,
    )
    cred.signature = sign_credential(cred, signing_key or root.private_key)
    doc = {
        "type": cred.credential_type,
        "root_pubkey": cred.root_pubkey.hex(),
        "expires_at": cred.expires_at,
        "attributes": cred.attributes,
        "endpoint_id": cred.endpoint_id,
        "nonce": cred.nonce.hex() if cred.nonce else None,
        "signature": cred.signature.hex(),
    }
    path = Path(out)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


def write_consumer_identity(
    root: RootKey,
    out: str | os.PathLike[str],
    *,
    name: str = "harness-consumer",
    attributes: dict[str, str] | None = None,
    expires_at: int | None = None,
) -> tuple[Path, str]:
    """Write a ``.aster-identity`` with a fresh node key and one consumer policy credential
    bound to that node, signed by the runtime. Returns ``(path, endpoint_id)``."""
    import base64

    import tomli_w
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from aster.trust import ConsumerEnrollmentCredential, sign_credential

    seed = secrets.token_bytes(32)
    endpoint_id = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw().hex()
    cred = ConsumerEnrollmentCredential(
        credential_type="policy",
        root_pubkey=root.public_key,
        expires_at=int(time.time()) + 3600 if expires_at is None else expires_at,
        attributes=dict(attributes or {"aster.role": "consumer"}),
        endpoint_id=endpoint_id,
    )
    signature = sign_credential(cred, root.private_key)
    doc = {
        "node": {"secret_key": base64.b64encode(seed).decode(), "endpoint_id": endpoint_id},
        "peers": [{
            "name": name, "role": "consumer", "type": "policy", "root_pubkey": root.public_hex,
            "endpoint_id": endpoint_id, "expires_at": cred.expires_at,
            "signature": signature.hex(), "attributes": cred.attributes,
        }],
    }
    path = Path(out)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        tomli_w.dump(doc, fh)
    return path, endpoint_id
