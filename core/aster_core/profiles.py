"""Operator profiles in ``<home>/config.toml`` (layout in docs/file-formats.md).

Each profile records a root public key and when it was made; the root private
key lives in the OS keyring (:mod:`aster_core.secrets`), or, for a profile made
with ``aster profile import NAME --root-key FILE --key-file-only`` on a machine
without one, in that file, which the profile names (``root_key_file``) and every
command using it mentions (:func:`aster_core.rootkey.resolve`). Every change goes
through :func:`aster_core.files.update_toml`, so comments and unknown tables
survive and two concurrent writers both land; every keyring change happens
under the same lock as the config change it belongs with.

Values of the wrong type in the file (``[profiles] dev = "x"``,
``active_profile = 5``, ``root_pubkey = 5``) are bad input: one error naming
the file and the key, exit 2.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from dataclasses import dataclass
from typing import Any

from .errors import AsterError, NotFoundError, UsageError
from .files import load_toml, update_toml
from .home import config_path, ensure_home
from .text import shown, whole_match

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_FIX = "fix the file by hand (nothing was changed)"


@dataclass(frozen=True)
class Profile:
    name: str
    root_pubkey: str
    created_at: str
    active: bool
    extra: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "active": self.active, "root_pubkey": self.root_pubkey,
                "created_at": self.created_at, **self.extra}


#: The ``[profiles.<name>]`` key naming the key file of a profile that uses no keyring.
KEY_FILE_FIELD = "root_key_file"


def key_file_of(fields: dict[str, Any]) -> str | None:
    """The key file a profile's table refers to (``root_key_file``), or None for a keyring profile."""
    value = fields.get(KEY_FILE_FIELD)
    return value if isinstance(value, str) and value else None


def validate_name(name: str) -> str:
    if not whole_match(_NAME, name):  # whole: "prod\n" is not a profile name
        raise UsageError(f"invalid profile name {shown(name)}",
                         "use letters, digits, '.', '_' or '-' (at most 64 characters)")
    return name


def read_config() -> dict[str, Any]:
    return load_toml(config_path())


def _profiles_table(doc: dict[str, Any]) -> dict[str, Any]:
    """The ``[profiles]`` table, every entry checked to be a table with string fields."""
    table = doc.get("profiles", {})
    if not isinstance(table, dict):
        raise UsageError(f"{config_path()}: 'profiles' must be a table ([profiles.NAME])", _FIX)
    for name, raw in table.items():
        if not isinstance(raw, dict):
            raise UsageError(f"{config_path()}: profiles.{name} must be a table ([profiles.{name}]), "
                             f"not a {_kind(raw)}", _FIX)
        for key in ("root_pubkey", "created_at", KEY_FILE_FIELD):
            if key in raw and not isinstance(raw[key], str):
                raise UsageError(f"{config_path()}: [profiles.{name}] {key} must be a string, "
                                 f"not a {_kind(raw[key])}", _FIX)
    return table


def active_profile(doc: dict[str, Any]) -> str | None:
    """``active_profile`` of a config document (checked to be a string) or None."""
    active = doc.get("active_profile")
    if active is None:
        return None
    if not isinstance(active, str):
        raise UsageError(f"{config_path()}: active_profile must be a string, not a {_kind(active)}", _FIX)
    return active or None


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "number"
    if isinstance(value, dict):
        return "table"
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def _to_profile(name: str, raw: dict[str, Any], active: str | None) -> Profile:
    extra = {k: v for k, v in raw.items() if k not in ("root_pubkey", "created_at")}
    return Profile(name, str(raw.get("root_pubkey", "")), str(raw.get("created_at", "")), name == active, extra)


def list_profiles() -> list[Profile]:
    doc = read_config()
    table, active = _profiles_table(doc), active_profile(doc)
    return [_to_profile(n, raw, active) for n, raw in sorted(table.items())]


def get_profile(name: str) -> Profile:
    doc = read_config()
    table = _profiles_table(doc)
    if name not in table:
        raise NotFoundError(f"no profile named {name!r}", _known_hint(table))
    return _to_profile(name, table[name], active_profile(doc))


def _known_hint(table: dict[str, Any]) -> str:
    if table:
        return "known profiles: " + ", ".join(sorted(table)) + " (see `aster profile list`)"
    return "create one with `aster profile create NAME`"


def selected_profile_name(explicit: str | None = None) -> str:
    """The profile a command works on: ``--profile``, then the root ``aster --profile``,
    then ``ASTER_PROFILE``, then ``active_profile`` from the config file."""
    if explicit:
        return explicit
    import click

    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        root_choice = ctx.find_root().params.get("profile")
        if root_choice:
            return root_choice
    if os.environ.get("ASTER_PROFILE"):
        return os.environ["ASTER_PROFILE"]
    active = active_profile(read_config())
    if not active:
        raise NotFoundError("no active profile", "create one with `aster profile create NAME` or pass --profile")
    return active


def use_profile(name: str) -> None:
    def mutate(doc: dict[str, Any]) -> None:
        table = _profiles_table(doc)
        active_profile(doc)
        if name not in table:
            raise NotFoundError(f"no profile named {name!r}", _known_hint(table))
        doc["active_profile"] = name

    _require_config()
    update_toml(config_path(), mutate)


def _require_config() -> None:
    if not config_path().exists():
        raise NotFoundError(f"{config_path()} does not exist", "create a profile with `aster profile create NAME`")


def _check_new_name(name: str, table: dict[str, Any]) -> None:
    if name in table:
        raise UsageError(f"profile {name!r} already exists",
                         f"pick another name, or `aster profile delete {name}` first")
    folded = {existing.casefold(): existing for existing in table}
    if name.casefold() in folded:
        other = folded[name.casefold()]
        raise UsageError(f"profile {name!r} differs from the existing profile {other!r} only by case "
                         f"(some keyrings fold names to lower case, so both would share one key)",
                         "pick a name that differs by more than case")


def create_profile(name: str) -> dict[str, Any]:
    """Make a profile: a new root key in the keyring, its public half in config.toml."""
    from .keyfiles import generate_root_keypair

    validate_name(name)
    seed_hex, pub_hex = generate_root_keypair()
    return _add_profile(name, seed_hex, pub_hex, key_file=None)


def import_profile(name: str, root_key_file: str, *, key_file_only: bool = False) -> dict[str, Any]:
    """Make a profile from an existing key pair file: its key into the keyring, or, with
    ``key_file_only``, a profile that refers to the file (for machines with no keyring; every
    command using it says so). The file is read and checked first either way."""
    from .errors import KeyringUnavailable
    from .keyfiles import read_key_file

    validate_name(name)
    seed, public = read_key_file(root_key_file)
    if key_file_only:
        return _add_profile(name, seed.hex(), public.hex(), key_file=str(Path(root_key_file).resolve()))
    try:
        return _add_profile(name, seed.hex(), public.hex(), key_file=None)
    except KeyringUnavailable as exc:
        raise KeyringUnavailable(exc.message, "make a profile that uses the key file instead: `aster profile "
                                 f"import {name} --root-key {root_key_file} --key-file-only` (or start or unlock "
                                 "a keyring, or name one in PYTHON_KEYRING_BACKEND)") from None


def _add_profile(name: str, seed_hex: str, pub_hex: str, *, key_file: str | None) -> dict[str, Any]:
    """Record profile ``name`` with its key in the keyring (or, given ``key_file``, referring to it).

    Under the config file's lock: the name is checked against every profile
    (also after case folding), the keyring entry is checked to be absent, the
    key is stored, and the file is written; if the write fails the key is
    removed again. A racing ``create`` or ``delete`` of any profile waits.
    """
    from datetime import datetime, timezone

    from . import secrets
    from .files import locked
    kr = secrets.backend() if key_file is None else None  # fail early (exit 6) when no backend works
    ensure_home()
    created_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = config_path()
    stored = False
    state: dict[str, Any] = {}

    def mutate(doc: dict[str, Any]) -> None:
        nonlocal stored
        if "profiles" not in doc:
            import tomlkit

            doc["profiles"] = tomlkit.table(is_super_table=True)
        table = _profiles_table(doc)
        active = active_profile(doc)
        _check_new_name(name, table)
        if kr is not None and secrets.get_entry(name, kr) is not None:
            raise UsageError(
                f"the keyring already holds a root key for profile {name!r} "
                f"(service {secrets.SERVICE}, user root_privkey:{name}) that no profile here records",
                f"keep it and pick another name, or remove it with `keyring del {secrets.SERVICE} root_privkey:{name}`")
        entry = {"root_pubkey": pub_hex, "created_at": created_at,
                 "handle": "", "handle_status": "unregistered", "email": ""}
        if key_file is not None:
            entry[KEY_FILE_FIELD] = key_file
        table[name] = entry
        state["active"] = not active
        if not active:
            doc["active_profile"] = name
        if kr is not None:
            secrets.store_root_key(name, seed_hex, kr)
            stored = True

    with locked(path):
        try:
            update_toml(path, mutate)
        except BaseException:
            if stored and kr is not None:
                secrets.delete_root_key(name, kr)
            raise
    result: dict[str, Any] = {"name": name, "root_pubkey": pub_hex, "created_at": created_at,
                              "active": state["active"], "config": str(path)}
    if kr is None:
        result.update({"key_file": key_file, "keyring": None})
    else:
        result.update({"keyring": f"service={secrets.SERVICE} user=root_privkey:{name}", "keyring_backend": kr.name,
                       "plaintext_keyring": (kr.file or True) if kr.plaintext else None})
    return result


def delete_profile(name: str) -> dict[str, Any]:
    """Remove a profile from config.toml and its root key from the keyring, under one lock.

    The file is written first, then the key removed; if the keyring refuses, the
    file is put back as it was. (Interrupted between the two, a key is left in
    the keyring with no profile, never a profile without its key.) A profile that
    refers to a key file needs no keyring: the file is left where it is.
    """
    from . import secrets
    from .files import atomic_write, locked, read_bytes

    _require_config()
    kr = None if key_file_of(get_profile(name).extra) else secrets.backend()
    path = config_path()
    result: dict[str, Any] = {}

    def mutate(doc: dict[str, Any]) -> None:
        table = _profiles_table(doc)
        active = active_profile(doc)
        if name not in table:
            raise NotFoundError(f"no profile named {name!r}", _known_hint(table))
        if (kr is None) != bool(key_file_of(table[name])):
            raise AsterError(f"profile {name!r} changed while it was being deleted", "run the command again")
        result["key_file"] = key_file_of(table[name])
        del table[name]
        if active == name:
            if table:
                doc["active_profile"] = sorted(table)[0]  # in place: the key keeps its spot and comment
            else:
                del doc["active_profile"]
        result["active_profile"] = doc.get("active_profile")

    with locked(path):
        before = read_bytes(path, "config file")
        update_toml(path, mutate)
        try:
            removed = secrets.delete_root_key(name, kr) if kr is not None else False
        except BaseException:
            atomic_write(path, before, mode=0o600)
            raise
    active = result["active_profile"]
    return {"name": name, "deleted": True, "keyring_entry_removed": removed, "key_file": result["key_file"],
            "active_profile": str(active) if active is not None else None}


def profile_details(name: str) -> dict[str, Any]:
    """Public facts about a profile, plus whether this machine holds its private key."""
    from . import secrets

    info = get_profile(name).as_dict()
    key_file = key_file_of(info)
    if key_file is not None:
        state = "readable" if os.access(key_file, os.R_OK) else "NOT readable"
        info["private_key"] = f"in the key file {key_file} ({state}; no keyring)"
        return info
    try:
        secrets.load_root_key(name)
        info["private_key"] = "in keyring"
    except AsterError as exc:
        info["private_key"] = f"not available ({exc.message})"
    return info
