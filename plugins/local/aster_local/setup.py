"""``aster local init``: everything a mesh on this machine needs, made once.

1. A profile (default ``local``) with its root key: a new key in the keyring, or, with
   ``--root-key FILE``, a profile that refers to that key file (no keyring needed). An
   existing profile of that name is reused (its key must resolve).
2. ``root.pub`` (what the authority trusts) and the admin identity: a node key and a
   credential BOUND to its endpoint id with ``aster.role = authority.admin``, made by the
   very code of ``aster enroll node --capabilities authority.admin``, so the admin's node
   key can sign what the authority asks an admin to sign.
3. The servers' folders (0700) under DIR; their SQLite databases and node keys are made by
   the servers themselves on the first ``aster local up``.
4. ``config.toml``, through ``config set``'s work function in one write: the profile is
   active, ``[authority] credential`` is the admin identity, ``[local] dir`` is DIR. The
   servers' addresses are written by ``up`` once they answer (the runtime picks new ports at
   every start, so an address is only known then).

Every input is checked before anything is written; a folder that already holds a mesh is
refused (exit 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aster_core.errors import AsterError, NotFoundError, UsageError

from .layout import RECORD, Layout, default_dir

DEFAULT_PROFILE = "local"
ADMIN_ROLE = "authority.admin"
SERVERS = ("authority", "registry")


def _existing_profile(name: str, root_key: str | None) -> Any:
    """The profile ``name`` when it exists and can be used (its private key is here), None
    when it does not exist; refused when ``root_key`` would have to replace its key."""
    from aster_core.profiles import get_profile
    from aster_core.rootkey import resolve

    try:
        existing = get_profile(name)
    except NotFoundError:
        return None
    if root_key is not None:
        raise UsageError(f"profile {name!r} exists already, with its own root key",
                         "leave out --root-key to use it, or pick another name with --profile")
    resolve(None, name)  # its private key must be here (keyring or key file)
    return existing


def _make_profile(name: str, root_key: str | None) -> dict[str, Any]:
    """A new profile: a new key in the keyring, or one referring to ``root_key``."""
    from aster_core.profiles import create_profile, import_profile

    if root_key is not None:
        made = import_profile(name, root_key, key_file_only=True)
        return {"name": name, "root_pubkey": made["root_pubkey"], "created": True, "key": f"file {made['key_file']}"}
    made = create_profile(name)
    return {"name": name, "root_pubkey": made["root_pubkey"], "created": True, "key": "keyring"}


def init(out: str | None = None, *, root_key: str | None = None, profile: str = DEFAULT_PROFILE) -> dict[str, Any]:
    """Make a local mesh in ``out`` (default ``<home>/local``); returns what was made."""
    from aster_core.configset import change
    from aster_core.filemodes import private_dir
    from aster_core.files import atomic_write, dump_toml
    from aster_core.profiles import validate_name
    from aster_enroll.enrollment import enroll_node
    from aster_trust.keys import write_public_key

    validate_name(profile)
    layout = Layout(Path(out).expanduser().absolute() if out else default_dir())
    if layout.record.exists():
        raise UsageError(f"{layout.dir} already holds a local mesh ({RECORD})",
                         "start it with `aster local up`, or init another folder with --out DIR")
    if layout.dir.exists() and not layout.dir.is_dir():
        raise UsageError(f"{layout.dir} is not a folder", "give --out a folder path")
    if root_key is not None:
        from aster_core.keyfiles import read_key_file

        read_key_file(root_key)  # a bad key file stops us before anything exists
    existing = _existing_profile(profile, root_key)
    if existing is None:
        from aster_core import secrets

        if root_key is None:
            secrets.backend()  # no usable keyring: exit 6 now, before any folder exists
    try:
        private_dir(layout.dir)
        for server in SERVERS:
            private_dir(layout.dir / server)
    except OSError as exc:
        raise AsterError(f"cannot create {layout.dir}: {exc.strerror or exc}", "choose a folder you may write to") from None
    prof = (_make_profile(profile, root_key) if existing is None else
            {"name": profile, "root_pubkey": existing.root_pubkey, "created": False, "key": "existing profile"})
    write_public_key(layout.root_pub, bytes.fromhex(prof["root_pubkey"]), force=True)
    admin = enroll_node(role="consumer", name="admin", identity_file=layout.admin_identity,
                        capabilities=ADMIN_ROLE, expires="365d", profile=profile)
    record = {"profile": profile, "root_pubkey": prof["root_pubkey"], "admin_identity": str(layout.admin_identity),
              "admin_endpoint_id": admin.endpoint_id,
              **{server: {"db": str(layout.db(server)), "identity": str(layout.node_key(server))} for server in SERVERS}}
    atomic_write(layout.record, "# made by `aster local init`; `aster local up` reads it\n" + dump_toml(record))
    # one write of config.toml, after the record (the check of local.dir reads it)
    change({"active_profile": profile, "authority.credential": str(layout.admin_identity), "local.dir": str(layout.dir)})
    return {"dir": str(layout.dir), "profile": prof, "admin": {"identity": str(layout.admin_identity),
                                                               "endpoint_id": admin.endpoint_id,
                                                               "roles": admin.capabilities, "expires": admin.expires},
            "root_pub": str(layout.root_pub), "servers": {s: record[s] for s in SERVERS}}
