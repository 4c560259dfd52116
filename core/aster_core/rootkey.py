"""ed25519 root key generation, shared by `aster profile create` and the trust family."""

from __future__ import annotations


def generate_root_keypair() -> tuple[str, str]:
    """A fresh root key pair as (seed hex, public key hex), 64 hex characters each."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return seed.hex(), pub.hex()
