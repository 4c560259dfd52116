"""The root key a command signs with, and exporting a profile's key.

:func:`resolve` is the one place every command that needs a root private key gets it from:
``--root-key FILE`` (no profile needed at all), else the selected profile's key, which is in
the OS keyring or, for a profile made with ``aster profile import --key-file-only``, in the
key file the profile refers to (said on stderr on every use). The profile's ``root_pubkey``
is checked against the key either way, so a stale key never signs for the wrong mesh.

Key pair files themselves (making, reading, writing) are :mod:`aster_core.keyfiles`'.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .errors import AsterError, UsageError
from .keyfiles import parse_hex32, public_key_of, read_key_file, write_key_file
from .profiles import get_profile, key_file_of, selected_profile_name, validate_name


@dataclass(frozen=True)
class ResolvedKey:
    """A root key and where it came from."""

    seed: bytes = field(repr=False)
    public_key: bytes
    source: str            #: for summaries: the file, or "keyring (profile NAME)"
    profile: str | None    #: the profile it belongs to; None for ``--root-key FILE``


def resolve(root_key_file: str | os.PathLike | None = None, profile: str | None = None) -> ResolvedKey:
    """The root key a command signs with: ``--root-key FILE`` (needs no profile, no keyring),
    else the selected profile's (``--profile``, ``ASTER_PROFILE``, the active one) from the
    keyring or from the key file it refers to."""
    if root_key_file is not None:
        if profile is not None:
            raise UsageError("--root-key and --profile both name a root key", "give only one of them")
        seed, public = read_key_file(root_key_file)
        return ResolvedKey(seed, public, str(root_key_file), None)
    name = selected_profile_name(profile)
    prof = get_profile(name)  # no such profile (deleted, say): exit 4 saying so
    key_file = key_file_of(prof.extra)
    if key_file is not None:
        from .output import info

        info(f"Profile {name} uses the root key file {key_file} (no keyring)")
        seed, public = read_key_file(key_file)
        where, source = f"the key file {key_file} of profile {name!r}", f"{key_file} (profile {name})"
        hint = f"restore {key_file} from backup, or `aster profile import` the profile again"
    else:
        from .secrets import load_root_key

        seed = parse_hex32(load_root_key(name), f"the keyring's root key for profile {name!r}",
                           "recreate the profile or pass --root-key FILE")
        public = public_key_of(seed)
        where, source = f"the keyring's root key for profile {name!r}", f"keyring (profile {name})"
        hint = "the profile was recreated elsewhere; pass --root-key FILE"
    if prof.root_pubkey and prof.root_pubkey.lower() != public.hex():
        raise AsterError(f"{where} does not match its root_pubkey in config.toml", hint)
    return ResolvedKey(seed, public, source, name)


def export_key(name: str, out: str) -> dict[str, Any]:
    """Write profile ``name``'s root key pair to a new file ``out`` (0600): a backup of the
    keyring's key, or what `--root-key FILE` takes. Never replaces an existing file."""
    validate_name(name)
    key = resolve(None, name)
    path = write_key_file(out, key.seed, key.public_key,
                          exists_hint="choose another path; an existing file is never replaced by export-key")
    return {"name": name, "root_pubkey": key.public_key.hex(), "file": str(path), "from": key.source}
