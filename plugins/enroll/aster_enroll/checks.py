"""``aster doctor`` checks for the identity file in use (``ASTER_IDENTITY_FILE`` or ``./.aster-identity``).

Each ``[[peers]]`` credential is checked as a server would (signature, expiry, binding to this
node's key); a producer identity with no root public key configured is flagged, because the
runtime then runs open-gate and admits every consumer.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from aster_core.errors import AsterError
from aster_core.hookspecs import CheckResult

SOON = 7 * 86400
NAME = "identity"


def check_identity() -> list[CheckResult]:
    from aster_core.durations import iso_utc

    from aster_trust.credentials import check, credential_from_dict

    from . import identity

    path = Path(os.environ.get("ASTER_IDENTITY_FILE") or identity.DEFAULT_PATH)
    if not path.exists():
        return [CheckResult(NAME, "ok", f"no {path} here (nothing to check)")]
    try:
        doc = identity.read(path)
        node_key = identity.validate(doc, path)
    except AsterError as exc:
        return [CheckResult(NAME, "fail", exc.message, exc.hint)]
    results = []
    for peer in doc.get("peers", []):
        label = f"{NAME}: {peer.get('name', '?')}"
        try:
            cred = credential_from_dict(peer, f"{path} peer {peer.get('name', '?')!r}", entry=True)
        except AsterError as exc:
            results.append(CheckResult(label, "fail", exc.message, exc.hint))
            continue
        found = check(cred, endpoint_id=node_key.endpoint_id if node_key else None)
        if not found.ok:
            results.append(CheckResult(label, "fail", "; ".join(found.problems()),
                                       "re-enroll it with `aster enroll node --name NAME ...`"))
        elif cred.expires_at - time.time() < SOON:
            results.append(CheckResult(label, "warn", f"expires soon ({iso_utc(cred.expires_at)})",
                                       "re-enroll it with `aster enroll node --name NAME ...`"))
        else:
            results.append(CheckResult(label, "ok", f"{path}: {cred.type}, valid until {iso_utc(cred.expires_at)}"))
        if peer.get("role") == "producer" and not (os.environ.get("ASTER_ROOT_PUBKEY")
                                                   or os.environ.get("ASTER_ROOT_PUBKEY_FILE")):
            results.append(CheckResult(label, "warn", "a server using this identity with no root public key "
                                       "configured runs OPEN-GATE (admits every consumer)",
                                       "set ASTER_ROOT_PUBKEY_FILE (see `aster trust keygen pubkey`)"))
    return results or [CheckResult(NAME, "ok", f"{path} has no [[peers]] entries")]
