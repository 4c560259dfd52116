"""Operator profiles in ``<home>/config.toml`` (layout in shared/spec/compat.md).

Each profile records a root public key and when it was made; the root private
key lives only in the OS keyring (:mod:`aster_core.secrets`). Every change goes
through :func:`aster_core.files.update_toml`, so unknown tables survive and two
concurrent writers both land.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from .errors import AsterError, NotFoundError, UsageError
from .files import load_toml, update_toml
from .home import config_path, ensure_home

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


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


def validate_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise UsageError(f"invalid profile name {name!r}",
                         "use letters, digits, '.', '_' or '-' (at most 64 characters)")
    return name


def read_config() -> dict[str, Any]:
    return load_toml(config_path())


def _profiles_table(doc: dict[str, Any]) -> dict[str, Any]:
    table = doc.get("profiles", {})
    if not isinstance(table, dict):
        raise UsageError(f"{config_path()}: [profiles] is not a table", "fix the file by hand")
    return table


def _to_profile(name: str, raw: dict[str, Any], active: str | None) -> Profile:
    extra = {k: v for k, v in raw.items() if k not in ("root_pubkey", "created_at")}
    return Profile(name, str(raw.get("root_pubkey", "")), str(raw.get("created_at", "")), name == active, extra)


def list_profiles() -> list[Profile]:
    doc = read_config()
    active = doc.get("active_profile")
    return [_to_profile(n, raw, active) for n, raw in sorted(_profiles_table(doc).items())]


def get_profile(name: str) -> Profile:
    doc = read_config()
    table = _profiles_table(doc)
    if name not in table:
        raise NotFoundError(f"no profile named {name!r}", _known_hint(table))
    return _to_profile(name, table[name], doc.get("active_profile"))


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
    active = read_config().get("active_profile")
    if not active:
        raise NotFoundError("no active profile", "create one with `aster profile create NAME` or pass --profile")
    return str(active)


def use_profile(name: str) -> None:
    def mutate(doc: dict[str, Any]) -> None:
        table = _profiles_table(doc)
        if name not in table:
            raise NotFoundError(f"no profile named {name!r}", _known_hint(table))
        doc["active_profile"] = name

    _require_config()
    update_toml(config_path(), mutate)


def remove_profile(name: str) -> None:
    def mutate(doc: dict[str, Any]) -> None:
        table = _profiles_table(doc)
        if name not in table:
            raise NotFoundError(f"no profile named {name!r}", _known_hint(table))
        del table[name]
        if doc.get("active_profile") == name:
            doc.pop("active_profile")
            if table:
                doc["active_profile"] = sorted(table)[0]

    _require_config()
    update_toml(config_path(), mutate)


def _require_config() -> None:
    if not config_path().exists():
        raise NotFoundError(f"{config_path()} does not exist", "create a profile with `aster profile create NAME`")


def create_profile(name: str) -> dict[str, Any]:
    """Make a profile: a new root key in the keyring, its public half in config.toml.

    The keyring is checked before anything is written, and the duplicate check,
    keyring store and file write happen under the config file's lock, so a
    racing ``create`` of the same name can never overwrite our key.
    """
    from datetime import datetime, timezone

    from . import secrets
    from .files import atomic_write, dump_toml, locked
    from .rootkey import generate_root_keypair

    validate_name(name)
    secrets.keyring_description()  # fail early (exit 6) when no backend works
    ensure_home()
    created_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = config_path()
    with locked(path):
        doc = load_toml(path)
        table = doc["profiles"] = _profiles_table(doc)
        if name in table:
            raise UsageError(f"profile {name!r} already exists",
                             f"pick another name, or `aster profile delete {name}` first")
        seed_hex, pub_hex = generate_root_keypair()
        table[name] = {"root_pubkey": pub_hex, "created_at": created_at,
                       "handle": "", "handle_status": "unregistered", "email": ""}
        became_active = not doc.get("active_profile")
        if became_active:
            doc["active_profile"] = name
        secrets.store_root_key(name, seed_hex)
        try:
            atomic_write(path, dump_toml(doc), mode=0o600)
        except BaseException:
            secrets.delete_root_key(name)
            raise
    return {"name": name, "root_pubkey": pub_hex, "created_at": created_at, "active": became_active,
            "keyring": f"service={secrets.SERVICE} user=root_privkey:{name}", "config": str(path)}


def delete_profile(name: str) -> dict[str, Any]:
    """Remove a profile from config.toml and its root key from the keyring."""
    from . import secrets

    remove_profile(name)
    removed_key = secrets.delete_root_key(name)
    return {"name": name, "deleted": True, "keyring_entry_removed": removed_key,
            "active_profile": read_config().get("active_profile")}


def profile_details(name: str) -> dict[str, Any]:
    """Public facts about a profile, plus whether this machine holds its private key."""
    from . import secrets

    info = get_profile(name).as_dict()
    try:
        secrets.load_root_key(name)
        info["private_key"] = "in keyring"
    except AsterError as exc:
        info["private_key"] = f"not available ({exc.message})"
    return info
