"""Plans this machine applied: what an accept of one of them signs, without asking the authority.

An accept's decision names the plan's digest and services (``accept_body``). For a plan
proposed here, this machine computed both itself when it signed the ``apply`` record, and the
authority stored the plan only because that record's body matched it; so ``accept`` signs
from what is kept here (with the chain head this machine's own apply pinned) and sends one
call instead of asking for the plan first. When another decision moved the chain meanwhile,
the authority refuses the record and :func:`~aster_authority.client.signer.decide` signs
against the new head; when the authority's plan is not the one kept here it refuses the
record's body, and nothing is stored.

One file, ``<aster home>/authority/plans.json`` (0600, written atomically under a lock)::

    {"format": 1, "plans": {"<root public key hex>": {"<plan id>":
        {"deployment_id": "payments", "digest": "blake3:...", "services": [...]}}}}

Only the last :data:`KEPT` plans are kept; a plan not found here is shown by the authority first,
as before.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

FORMAT = 1
FILE_NAME = "plans.json"
#: plans kept per file (the oldest go first): an accept usually follows its apply closely
KEPT = 200


def plans_file() -> Path:
    from aster_core.home import aster_home

    return aster_home() / "authority" / FILE_NAME


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"format": FORMAT, "plans": {}}  # a cache: missing or damaged means "ask the authority"
    if not isinstance(doc, dict) or not isinstance(doc.get("plans"), dict):
        return {"format": FORMAT, "plans": {}}
    return doc


def remember(root_hex: str, deployment_id: str, plan_id: str, apply_body: Mapping[str, Any]) -> None:
    """Keep the digest and services of ``plan_id``, proposed here with ``apply_body``."""
    from aster_core.filemodes import private_dir
    from aster_core.files import atomic_write, locked

    path = plans_file()
    private_dir(path.parent)
    with locked(path):
        doc = _read(path)
        per_root = doc["plans"].get(root_hex)
        if not isinstance(per_root, dict):
            per_root = doc["plans"][root_hex] = {}
        per_root.pop(plan_id, None)
        per_root[plan_id] = {"deployment_id": deployment_id, "digest": apply_body["digest"],
                             "services": apply_body["services"]}
        for old in list(per_root)[:-KEPT]:
            del per_root[old]
        doc["format"] = FORMAT
        atomic_write(path, json.dumps(doc) + "\n", mode=0o600)


def applied(root_hex: str, deployment_id: str, plan_id: str) -> dict[str, Any] | None:
    """``{"digest", "services"}`` of ``plan_id`` when this machine applied it to ``deployment_id``."""
    per_root = _read(plans_file())["plans"].get(root_hex)
    entry = per_root.get(plan_id) if isinstance(per_root, dict) else None
    if (not isinstance(entry, dict) or entry.get("deployment_id") != deployment_id
            or not isinstance(entry.get("digest"), str) or not isinstance(entry.get("services"), list)):
        return None
    return {"digest": entry["digest"], "services": entry["services"]}
