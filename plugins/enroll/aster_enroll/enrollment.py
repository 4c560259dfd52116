"""``aster enroll node`` without click: make or reuse the node key, sign, upsert the peer entry."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable

from aster_core.durations import iso_utc, parse_expiry, to_epoch
from aster_core.errors import UsageError
from aster_core.text import check_text
from aster_core.files import check_writable_target

from aster_trust import credentials
from aster_trust.attributes import ROLE, parse_attributes, parse_capabilities
from aster_trust.keys import resolve_root_key

from . import identity

ROLES = ("consumer", "producer")
DEFAULT_EXPIRY = "30d"


@dataclass(frozen=True)
class Enrollment:
    """What one enrollment wrote."""

    identity_file: str
    name: str
    role: str
    type: str
    capabilities: list[str]
    endpoint_id: str
    root_pubkey: str
    root_key: str
    expires_at: int
    expires: str
    attributes: dict[str, str]
    node_key_created: bool
    replaced: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def signed_attributes(role: str, capabilities: str | None, attrs: Iterable[str]) -> dict[str, str]:
    """``--attr`` pairs plus ``aster.role``: the capabilities when given, else the node's role.

    ``aster.role`` is what the runtime's method-level checks read, so it is always signed
    (and, like every signed attribute, always written to the file).
    """
    attributes = parse_attributes(attrs)
    if capabilities is not None:
        if ROLE in attributes:
            raise UsageError("--capabilities and --attr aster.role=... both set the roles", "give only one of them")
        attributes[ROLE] = parse_capabilities(capabilities)
    attributes.setdefault(ROLE, role)
    return attributes


def enroll_node(*, role: str, name: str | None = None, identity_file: str | os.PathLike = identity.DEFAULT_PATH,
                kind: str = credentials.POLICY, capabilities: str | None = None, attrs: Iterable[str] = (),
                expires: str = DEFAULT_EXPIRY, root_key_file: str | None = None,
                profile: str | None = None, force: bool = False) -> Enrollment:
    """Enroll this node: every input is checked before the identity file is locked or written.

    A consumer gets a policy or ott credential bound to the node's endpoint id; a producer
    gets a producer (mesh) credential, recorded with ``type = "producer"``. An existing file
    that is not an identity file (no ``[node]``, no ``[[peers]]``) is changed only with
    ``force``. The file is edited in place: comments and tables of others are kept, and a
    symlinked file is followed.
    """
    if role not in ROLES:
        raise UsageError(f"unknown role {role!r}", "use --role producer or --role consumer")
    if kind not in credentials.CONSUMER_TYPES:
        raise UsageError(f"unknown credential type {kind!r}", "use --type policy or --type ott")
    if role == "producer" and kind == credentials.OTT:
        raise UsageError("producer credentials cannot be one-time tokens", "drop --type ott for --role producer")
    name = role if name is None else name.strip()
    if not name:
        raise UsageError("--name is empty", "give the peer entry a name, e.g. --name edge-node-7")
    # the peer entry's name is what --peer picks and listings print: one line
    check_text(name, field="--name", max_length=128, hint="give the peer entry a one-line name, e.g. --name edge-node-7")
    attributes = signed_attributes(role, capabilities, attrs)
    expires_at = to_epoch(parse_expiry(expires))
    path = Path(identity_file)
    check_writable_target(path)
    existing = identity.read(path)  # a corrupt file stops us here, before the lock file is made
    if existing and "node" not in existing and "peers" not in existing and not force:
        raise UsageError(f"{path} exists and is not an identity file (it has no [node] and no [[peers]])",
                         "give another --identity path, or pass --force to add this node's identity to it")
    root, root_source = resolve_root_key(root_key_file, profile)
    cred_type = credentials.PRODUCER if role == "producer" else kind

    def mutate(doc: dict[str, Any]) -> Enrollment:
        node_key = identity.validate(doc, path)
        created = node_key is None
        if node_key is None:
            node_key = identity.NodeKey.generate()
            doc["node"] = node_key.table()  # a new file starts with it; an existing one keeps its layout
        cred = credentials.sign(root, cred_type, expires_at=expires_at, attributes=attributes,
                                endpoint_id=node_key.endpoint_id)
        replaced = identity.upsert_peer(doc, identity.peer_entry(name, role, cred))
        return Enrollment(str(path), name, role, cred.type, cred.roles(), node_key.endpoint_id, root.public_hex,
                          root_source, expires_at, iso_utc(expires_at), dict(attributes), created, replaced)

    from aster_core.files import update_toml

    return update_toml(path, mutate, mode=0o600)
