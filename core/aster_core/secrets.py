"""Root private keys in the OS keyring (service ``aster``, user ``root_privkey:<profile>``).

The naming matches the runtime's, so both tools share keys. There is no
fallback to a file: where no keyring backend works we say so and stop.
"""

from __future__ import annotations

from .errors import KeyringUnavailable, NotFoundError

SERVICE = "aster"
_HINT = ("install a keyring backend (e.g. `pip install keyrings.alt`), or set "
         "PYTHON_KEYRING_BACKEND; on a headless machine keep the root key in a file "
         "made by `aster trust keygen root --out FILE` and pass --root-key FILE")


def _username(profile: str) -> str:
    return f"root_privkey:{profile}"


def _backend():
    """The keyring module, once we know a real backend is behind it."""
    import keyring
    from keyring.backends import chainer, fail

    backend = keyring.get_keyring()
    empty_chain = isinstance(backend, chainer.ChainerBackend) and not backend.backends
    if isinstance(backend, fail.Keyring) or empty_chain:
        raise KeyringUnavailable("no usable OS keyring backend on this machine", _HINT)
    return keyring


def keyring_description() -> str:
    """Which backend is in use, for `doctor` (raises KeyringUnavailable)."""
    import keyring

    _backend()
    backend = keyring.get_keyring()
    return f"{type(backend).__module__}.{type(backend).__name__}"


def store_root_key(profile: str, seed_hex: str) -> None:
    kr = _backend()
    try:
        kr.set_password(SERVICE, _username(profile), seed_hex)
    except Exception as exc:  # keyring backends raise their own error types
        raise KeyringUnavailable(f"the keyring refused to store the key: {exc}", _HINT) from None


def load_root_key(profile: str) -> str:
    """The root seed (64 hex) of ``profile``; NotFoundError when absent."""
    kr = _backend()
    try:
        value = kr.get_password(SERVICE, _username(profile))
    except Exception as exc:
        raise KeyringUnavailable(f"the keyring could not be read: {exc}", _HINT) from None
    if not value:
        raise NotFoundError(f"no root private key for profile {profile!r} in the keyring",
                            "this machine may not hold the key; pass --root-key FILE instead")
    return value


def delete_root_key(profile: str) -> bool:
    """Remove the key; False when there was none."""
    kr = _backend()
    from keyring.errors import PasswordDeleteError

    try:
        kr.delete_password(SERVICE, _username(profile))
    except PasswordDeleteError:
        return False
    except Exception as exc:
        raise KeyringUnavailable(f"the keyring could not delete the key: {exc}", _HINT) from None
    return True
