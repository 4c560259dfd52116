"""Producer tokens in ``.aster-identity``, in the layout the runtime reads.

``AsterServer`` loads the *first* ``[[peers]]`` entry with ``role = "producer"`` and reads
its nested ``published_services`` table and its ``aster_service`` key (the registry
address); with at least one token there it calls ``PublicationService.register_endpoint``
2 s after start and every 225 s. So ``publish`` writes::

    [[peers]]
    name = "billing-producer"          # made by `aster enroll node --role producer`
    role = "producer"
    ...
    aster_service = "aster1..."         # the registry that issued the token

    [peers.published_services.TaskService]
    producer_token = "..."
    contract_id = "..."
    service_name = "TaskService"

(aster-cli 0.1.2 writes a top-level ``[published_services.S]`` table instead, which the
runtime never reads; ``unpublish`` removes that too.) Edits go through
:func:`aster_core.files.update_toml`: locked, atomic, mode 0600, escaped by a real TOML
writer, every other table and comment kept.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aster_core.errors import UsageError

DEFAULT_FILE = ".aster-identity"
ENROLL_HINT = ("make this node a producer first: aster enroll node --role producer --name NAME "
               "(it writes [node] and the producer peer the runtime reads)")


@dataclass(frozen=True)
class Producer:
    """Where a token goes: the identity file, its producer peer, and the node's endpoint id."""

    path: Path
    peer: str | None
    endpoint_id: str | None


def identity_path(explicit: str | os.PathLike | None = None) -> Path:
    """``--identity FILE``, else ``ASTER_IDENTITY_FILE``, else ``./.aster-identity`` (what the runtime reads)."""
    if explicit:
        return Path(explicit).expanduser()
    return Path(os.path.expanduser(os.environ.get("ASTER_IDENTITY_FILE") or DEFAULT_FILE))


def _peers(doc: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    peers = doc.get("peers", [])
    if not isinstance(peers, list) or not all(isinstance(p, dict) for p in peers):
        raise UsageError(f"{path}: 'peers' must be an array of tables ([[peers]])",
                         "fix the file by hand or move it aside; nothing was changed")
    return peers


def _producer(peers: list[dict[str, Any]], name: str | None) -> dict[str, Any] | None:
    """The peer the runtime uses: the one named ``name``, else the first with role producer."""
    for entry in peers:
        if (name is None and entry.get("role") == "producer") or (name is not None and entry.get("name") == name):
            return entry
    return None


def find_producer(path: Path, peer: str | None = None, *, required: bool = True) -> Producer:
    """Read ``path`` and find its producer peer and ``[node] endpoint_id`` (nothing is written).

    With ``required`` a missing file or producer peer is a UsageError saying how to make one.
    """
    from aster_core.files import load_toml

    doc = load_toml(path)
    peers = _peers(doc, path)
    entry = _producer(peers, peer)
    if entry is not None and entry.get("role") != "producer":
        raise UsageError(f"peer {peer!r} in {path} is a {entry.get('role') or 'role-less'} peer, not a producer",
                         "name a producer peer with --peer, or enroll one: aster enroll node --role producer")
    if entry is None and required:
        what = f"no peer named {peer!r}" if peer else "no producer peer"
        state = "does not exist" if not path.exists() else f"has {what}"
        raise UsageError(f"{path} {state}; the producer token would have nowhere to go", ENROLL_HINT)
    node = doc.get("node", {})
    endpoint_id = node.get("endpoint_id") if isinstance(node, dict) else None
    if endpoint_id is None and entry is not None:
        endpoint_id = entry.get("endpoint_id")
    return Producer(path, None if entry is None else str(entry.get("name", "")),
                    str(endpoint_id).lower() if endpoint_id else None)


def store(producer: Producer, service: str, token: str, contract_id: str, registry: str) -> Path:
    """Write the token for ``service`` into the producer peer (the registry address beside it)."""
    from aster_core.files import update_toml

    def mutate(doc: dict[str, Any]) -> None:
        entry = _producer(_peers(doc, producer.path), producer.peer or None)
        if entry is None:
            raise UsageError(f"the producer peer {producer.peer!r} vanished from {producer.path} meanwhile",
                             "run the command again")
        entry["aster_service"] = registry
        table = entry.get("published_services")
        if not isinstance(table, dict):
            import tomlkit

            table = entry["published_services"] = tomlkit.table(is_super_table=True)
        table[service] = {"producer_token": token, "contract_id": contract_id, "service_name": service}

    update_toml(producer.path, mutate)
    return producer.path


def remove(path: Path, service: str) -> bool:
    """Drop ``service``'s token from every peer and from 0.1.2's top-level table; True if one was there."""
    from aster_core.files import update_toml

    if not path.exists():
        return False

    def mutate(doc: dict[str, Any]) -> bool:
        found = False
        tables = [entry.get("published_services") for entry in _peers(doc, path)]
        tables.append(doc.get("published_services"))
        for table in tables:
            if isinstance(table, dict) and service in table:
                del table[service]
                found = True
        return found

    return update_toml(path, mutate)


def stored(path: Path, service: str) -> dict[str, Any] | None:
    """The token entry the runtime would load for ``service`` (None if there is none)."""
    from aster_core.files import load_toml

    if not path.exists():
        return None
    entry = _producer(_peers(load_toml(path), path), None)
    table = entry.get("published_services") if entry else None
    value = table.get(service) if isinstance(table, dict) else None
    return dict(value) if isinstance(value, dict) else None
