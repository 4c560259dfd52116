"""The local contract store: ``<home>/contracts/<Service>/<first 16 hex>.aster.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aster_core.errors import AsterError
from aster_core.files import atomic_write
from aster_core.home import aster_home, ensure_home

from .export import ID_PREFIX, load_export


def contracts_dir() -> Path:
    return aster_home() / "contracts"


def stored_path(service: str, contract_id: str) -> Path:
    """Where an export with ``contract_id`` (``blake3:<hex>`` or bare hex) is kept."""
    hex_id = contract_id[len(ID_PREFIX):] if contract_id.startswith(ID_PREFIX) else contract_id
    return contracts_dir() / service / f"{hex_id[:16]}.aster.json"


def import_contract(path: Path) -> dict[str, Any]:
    """Validate an export and store it; importing the same contract again replaces it."""
    doc = load_export(path)
    target = stored_path(doc["service"], doc["contract_id"])
    ensure_home()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AsterError(f"cannot create {target.parent}: {exc.strerror or exc}",
                         "check that ASTER_HOME is writable") from None
    existed = target.exists()
    atomic_write(target, json.dumps(doc, indent=2, ensure_ascii=False) + "\n", mode=0o644)
    return {"service": doc["service"], "version": doc["version"], "contract_id": doc["contract_id"],
            "path": str(target), "replaced": existed}


def stored_manifest(service: str, contract_id: str) -> dict[str, Any] | None:
    """The imported contract with exactly this id, as a manifest-shaped dict (None if absent)."""
    from .export import export_to_manifest

    path = stored_path(service, contract_id)
    if not path.is_file():
        return None
    manifest = export_to_manifest(load_export(path))
    return manifest if manifest["contract_id"] == contract_id.removeprefix(ID_PREFIX) else None
