"""What a node does with the authority, and ``aster authority status``: fetch its own
credentials (connecting with its node key alone) into its identity file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aster_core.errors import AsterError, ExitCode

from .. import wire as w
from ..domain.ids import instance_id_for
from .connection import Authority
from .settings import authority_address

DEFAULT_IDENTITY = ".aster-identity"


def identity_authority(path: Path) -> dict[str, Any]:
    from aster_core.files import load_toml

    table = load_toml(path).get("authority", {}) if path.exists() else {}
    return table if isinstance(table, dict) else {}


def fetch(address: str | None, identity: str | os.PathLike = DEFAULT_IDENTITY) -> dict[str, Any]:
    """Connect with the node's own key, fetch its credentials, rewrite them in ``identity``
    atomically (every other key, table and comment of the file is kept)."""
    from aster_core.files import update_toml

    from aster_enroll.identity import peer_entry, upsert_peer, validate
    from aster_trust.credentials import credential_from_dict

    path = Path(identity)
    # an address problem before any file is made
    address = authority_address(address or identity_authority(path).get("address"))
    if not path.exists():
        # a new node: make its key now, so the operator can grant its endpoint id
        from aster_core.files import atomic_write

        from aster_enroll.identity import NodeKey

        node = NodeKey.generate()
        atomic_write(path, f'[node]\nsecret_key = "{node.table()["secret_key"]}"\n'
                           f'endpoint_id = "{node.endpoint_id}"\n', mode=0o600, exclusive=True)
    with Authority.as_node(address, path) as auth:
        answer = auth.call(w.NODE, "fetch", w.Empty())
    creds = answer["credentials"]
    if not creds:
        raise AsterError(f"the authority holds no credential for this node (endpoint id {answer['endpoint_id']})",
                         "ask an operator to grant this endpoint id a role (aster grants add) and reconcile, "
                         "then fetch again",
                         exit_code=ExitCode.NOT_FOUND)

    def mutate(doc: dict[str, Any]) -> list[dict[str, Any]]:
        key = validate(doc, path)
        written = []
        for item in creds:
            cred = credential_from_dict(item["credential"], "the authority's credential")
            if key is None or cred.endpoint_id != key.endpoint_id:
                raise AsterError("the authority released a credential bound to another endpoint",
                                 "nothing was written; report this to the operator")
            producer = item["subject"] == "producer"
            name = instance_id_for(cred.endpoint_id) if producer else item["deployment_id"]
            replaced = upsert_peer(doc, peer_entry(name, "producer" if producer else "consumer", cred))
            written.append({"peer": name, "deployment_id": item["deployment_id"], "subject": item["subject"],
                            "expires_at": cred.expires_at, "roles": cred.roles(), "replaced": replaced})
        return written

    written = update_toml(path, mutate, mode=0o600)
    return {"identity_file": str(path), "endpoint_id": answer["endpoint_id"], "written": written}


def status(address: str | None, rcan: str | None) -> dict[str, Any]:
    with Authority.open(address, rcan) as auth:
        info = auth.call(w.NODE, "status", w.Empty())
        return {"address": auth.address, **info}
