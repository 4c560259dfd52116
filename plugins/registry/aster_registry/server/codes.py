"""The registry's secrets: verification codes, recovery codes and producer tokens.

Verification codes are stored as Argon2id hashes (6 digits are few: a slow hash makes a stolen
table costly to search); recovery codes, long and random, as SHA-256. Producer tokens are
``payload.mac`` in base64url (TOML-safe), an HMAC-SHA256 under a key kept in the database, so
every replica issues and accepts the same tokens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from aster_server import storage
from aster_server.request import Refused

from .tables import t_meta

RECOVERY_CODES = 8

_HASHER: Any = None


def _hasher() -> Any:
    global _HASHER
    if _HASHER is None:
        from argon2 import PasswordHasher

        _HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)  # Argon2id
    return _HASHER


def new_code() -> str:
    """A 6-digit verification code."""
    return f"{secrets.randbelow(10**6):06d}"


def hash_code(code: str) -> str:
    return _hasher().hash(code)


def code_matches(stored: str, code: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(stored, code)
    except (VerificationError, InvalidHashError):
        return False


def new_recovery_codes(count: int = RECOVERY_CODES) -> list[str]:
    return ["-".join(secrets.token_hex(2) for _ in range(4)) for _ in range(count)]


def recovery_hash(code: str) -> str:
    return hashlib.sha256(("aster-recovery:" + code.strip().lower()).encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Tokens:
    """Producer tokens under the database's token key (made by the first server to start)."""

    def __init__(self, engine: Engine) -> None:
        with storage.transaction(engine) as conn:
            storage.insert_ignore(conn, t_meta, {"key": "token_key", "value": _b64(secrets.token_bytes(32))},
                                  ["key"])
            value = conn.execute(sa.select(t_meta.c.value).where(t_meta.c.key == "token_key")).scalar_one()
        self._key = _unb64(value)

    def _mac(self, body: str) -> bytes:
        return hmac.new(self._key, body.encode(), hashlib.sha256).digest()

    def issue(self, *, handle: str, name: str, contract_id: str, pubkey: str, token_id: str, at_ms: int) -> str:
        body = _b64(json.dumps({"h": handle, "s": name, "c": contract_id, "k": pubkey, "t": token_id, "i": at_ms},
                               separators=(",", ":")).encode())
        return f"{body}.{_b64(self._mac(body))}"

    def open(self, token: str) -> dict[str, Any]:
        """The token's fields (``h`` handle, ``s`` service, ``c`` contract id, ``t`` token id),
        or PERMISSION_DENIED when its MAC does not verify."""
        body, _, mac = token.partition(".")
        try:
            good = hmac.compare_digest(_unb64(mac), self._mac(body))
            data = json.loads(_unb64(body)) if good else None
        except (ValueError, TypeError):
            data = None
        if not isinstance(data, dict):
            raise Refused("PERMISSION_DENIED", "producer token is not valid; publish the service again")
        return data
