"""Root private keys in the OS keyring (service ``aster``, user ``root_privkey:<profile>``).

The naming matches the runtime's, so both tools share keys. There is no
silent fallback to a file: where no keyring backend works we say so and stop;
a profile uses a key file only when made so explicitly (``aster profile import
NAME --root-key FILE --key-file-only``, see :mod:`aster_core.rootkey`).

Which backend: the one the user selected explicitly (``PYTHON_KEYRING_BACKEND``,
or keyring's own ``keyringrc.cfg``), else the best *recommended* backend
keyring finds (priority >= 1) that is not a plaintext file. A plaintext or
low-priority backend (``keyrings.alt``'s PlaintextKeyring, say) is never picked
implicitly; when the user selects one, every command that stores a key says on
stderr that the key lands in a plaintext file.

Every keyring change is made by a caller holding the config file's lock
(:func:`aster_core.files.locked` on ``config.toml``), the same lock as the
config change it belongs with, so racing ``profile create``/``delete`` runs
cannot leave a profile without its key or lose another profile's key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from .errors import KeyringUnavailable, NotFoundError

SERVICE = "aster"
ENV = "PYTHON_KEYRING_BACKEND"
_HINT = ("start or unlock the desktop's keyring (Secret Service, KWallet, macOS Keychain, Windows "
         "Credential Locker) or name one in PYTHON_KEYRING_BACKEND; on a headless machine keep the root "
         "key in a file made by `aster trust keygen root --out FILE` and pass --root-key FILE, or make a "
         "profile that uses it: `aster profile import NAME --root-key FILE --key-file-only`")
_LOCKED_HINT = ("unlock the keyring (log in to the desktop session, or unlock the 'login' collection "
                "with your keyring manager) and run the command again")
#: Backends known to keep secrets in a file anyone who can read it can decode.
PLAINTEXT_BACKENDS = frozenset({
    "keyrings.alt.file.PlaintextKeyring",
    "keyring.backends.file.PlaintextKeyring",   # the name before keyrings.alt split off
})


def _username(profile: str) -> str:
    return f"root_privkey:{profile}"


def _qualname(backend: Any) -> str:
    return f"{type(backend).__module__}.{type(backend).__name__}"


def is_plaintext(backend: Any) -> bool:
    """Whether ``backend`` stores secrets in a plaintext (or merely encoded) file."""
    for cls in type(backend).__mro__:
        if f"{cls.__module__}.{cls.__name__}" in PLAINTEXT_BACKENDS:
            return True
    return False


@dataclass(frozen=True)
class Backend:
    """The keyring backend in use and how it was chosen."""

    impl: Any
    explicit: str | None      #: "PYTHON_KEYRING_BACKEND" or the keyringrc.cfg path; None when detected
    plaintext: bool

    @property
    def name(self) -> str:
        return _qualname(self.impl)

    @property
    def file(self) -> str | None:
        path = getattr(self.impl, "file_path", None)
        return str(path) if isinstance(path, (str, os.PathLike)) else None

    def description(self) -> str:
        how = f"selected by {self.explicit}" if self.explicit else "detected"
        if self.plaintext:
            return f"{self.name} ({how}): a PLAINTEXT file" + (f", {self.file}" if self.file else "")
        return f"{self.name} ({how})"

    def notice(self) -> str | None:
        """The warning every command that stores a key prints, or None for a real keyring."""
        if not self.plaintext:
            return None
        where = self.file or "a file"
        return (f"the keyring backend {self.name} ({self.explicit or 'selected explicitly'}) is a plaintext "
                f"file, not an OS keyring: the root key is stored base64-encoded, unencrypted, in {where}")


def _unloadable(name: str, exc: BaseException) -> KeyringUnavailable:
    return KeyringUnavailable(
        f"{ENV}={name!r} names a keyring backend that cannot be used ({type(exc).__name__}: {exc})",
        f"unset {ENV} or set it to an installed backend class, e.g. keyring.backends.SecretService.Keyring")


def _explicit() -> Backend | None:
    import keyring.core

    name = os.environ.get(ENV)
    if name is not None:
        if not name.strip() or "." not in name:
            raise _unloadable(name, ValueError("expected module.ClassName"))
        try:
            impl = keyring.core.load_keyring(name.strip())
        except Exception as exc:  # ImportError, AttributeError, RuntimeError (not viable), TypeError
            raise _unloadable(name, exc) from None
        return Backend(impl, ENV, is_plaintext(impl))
    try:
        impl = keyring.core.load_config()
    except Exception as exc:
        raise KeyringUnavailable(f"keyring's configuration names a backend that cannot be used "
                                 f"({type(exc).__name__}: {exc})", _HINT) from None
    if impl is None:
        return None
    return Backend(impl, str(keyring.core._config_path()), is_plaintext(impl))


def backend() -> Backend:
    """The backend every key operation uses (raises KeyringUnavailable, exit 6)."""
    from keyring.backends import chainer, fail

    chosen = _explicit()
    if chosen is not None:
        if isinstance(chosen.impl, fail.Keyring):
            raise KeyringUnavailable(f"{chosen.explicit} selects the 'fail' keyring backend", _HINT)
        return chosen
    import keyring.backend

    candidates = []
    for impl in keyring.backend.get_all_keyring():
        if isinstance(impl, (chainer.ChainerBackend, fail.Keyring)) or is_plaintext(impl):
            continue
        try:
            if impl.priority >= 1:
                candidates.append(impl)
        except Exception:
            continue
    if not candidates:
        raise KeyringUnavailable("no usable OS keyring backend on this machine (aster never falls back "
                                 "to a plaintext file on its own)", _HINT)
    return Backend(max(candidates, key=keyring.backend.by_priority), None, False)


def keyring_description() -> str:
    """Which backend is in use (raises KeyringUnavailable)."""
    return backend().description()


def _failure(what: str, exc: Exception) -> KeyringUnavailable:
    from keyring.errors import KeyringLocked

    if isinstance(exc, KeyringLocked) or "locked" in str(exc).lower():
        return KeyringUnavailable(f"the keyring is locked ({what})", _LOCKED_HINT)
    return KeyringUnavailable(f"the keyring {what}: {type(exc).__name__}: {exc}", _HINT)


def get_entry(profile: str, kr: Backend | None = None) -> str | None:
    """The keyring's value for ``profile`` or None (no error for a missing entry)."""
    kr = kr or backend()
    try:
        return kr.impl.get_password(SERVICE, _username(profile)) or None
    except Exception as exc:
        raise _failure("could not be read", exc) from None


def store_root_key(profile: str, seed_hex: str, kr: Backend | None = None) -> Backend:
    """Store a profile's seed; the caller holds the config lock. Prints the plaintext
    notice on stderr when the backend is a plaintext file. Returns the backend."""
    from .output import warn

    kr = kr or backend()
    try:
        kr.impl.set_password(SERVICE, _username(profile), seed_hex)
    except Exception as exc:  # keyring backends raise their own error types
        raise _failure("refused to store the key", exc) from None
    notice = kr.notice()
    if notice:
        warn(notice)
    return kr


def load_root_key(profile: str) -> str:
    """The root seed (64 hex) of ``profile``; NotFoundError when absent."""
    value = get_entry(profile)
    if not value:
        raise NotFoundError(f"no root private key for profile {profile!r} in the keyring",
                            "this machine may not hold the key; pass --root-key FILE instead")
    return value


def delete_root_key(profile: str, kr: Backend | None = None) -> bool:
    """Remove the key (the caller holds the config lock); False when there was none."""
    from keyring.errors import PasswordDeleteError

    kr = kr or backend()
    try:
        kr.impl.delete_password(SERVICE, _username(profile))
    except PasswordDeleteError:
        return False
    except Exception as exc:
        raise _failure("could not delete the key", exc) from None
    return True


def round_trip() -> Backend:
    """Store, read back and delete a random probe entry (what `aster doctor` checks).

    Raises KeyringUnavailable: locked, refused, or a backend that does not keep
    what it is given.
    """
    import secrets as _random

    kr = backend()
    user = f"doctor-probe:{_random.token_hex(8)}"
    value = _random.token_hex(16)
    try:
        kr.impl.set_password(SERVICE, user, value)
    except Exception as exc:
        raise _failure("refused a test entry", exc) from None
    try:
        try:
            back = kr.impl.get_password(SERVICE, user)
        except Exception as exc:
            raise _failure("could not read a test entry back", exc) from None
        if back != value:
            raise KeyringUnavailable(f"the keyring backend {kr.name} does not keep what is stored in it",
                                     _HINT)
    finally:
        try:
            kr.impl.delete_password(SERVICE, user)
        except Exception:
            pass
    try:
        left = kr.impl.get_password(SERVICE, user)
    except Exception:
        left = None
    if left is not None:
        raise KeyringUnavailable(f"the keyring backend {kr.name} does not delete entries", _HINT)
    return kr
