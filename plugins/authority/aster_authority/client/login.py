"""``aster authority login`` / ``logout`` / ``whoami``, and the checks ``aster config set``
runs on the family's settings (``authority.address``, ``authority.credential``,
``authority.timeout``).

Login keeps the address and the credential's path in ``config.toml`` (``[authority]``),
written once through :func:`aster_core.configset.change` after every check passed: the
address has a form the runtime dials, the credential parses and its signature holds, and
the authority answers and trusts the root that signed it. Nothing is written otherwise.
The credential itself stays where it is (its path is kept, made absolute), so a later
``aster enroll node`` or ``aster authority fetch`` that renews it is used at once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aster_core.configset import ONE_LINE
from aster_core.errors import AsterError, DeniedError, UsageError
from aster_core.text import check_text, shown

ADDRESS, CREDENTIAL, TIMEOUT = "authority.address", "authority.credential", "authority.timeout"
_ENV = {ADDRESS: "ASTER_AUTHORITY_ADDR", CREDENTIAL: "ASTER_AUTHORITY_CREDENTIAL"}
LOGIN_HINT = "run `aster authority login ADDR --rcan FILE` (ADDR: the ticket `aster authority serve` printed)"


def check_address(text: str) -> str:
    """An address of a form the runtime dials (aster1 ticket, base64 NodeAddr, endpoint id)."""
    from aster_connect.addresses import literal_kind

    value = check_text(text.strip(), field="authority address", max_length=4096, hint=ONE_LINE)
    if literal_kind(value) is None:
        raise UsageError(f"the authority address {shown(value, 48)} is not an address",
                         "use the aster1... ticket `aster authority serve` printed")
    return value


def check_credential(text: str) -> str:
    """The absolute path of a credential file that parses (JSON credential or .aster-identity)."""
    check_text(text, field="credential path", max_length=4096, hint=ONE_LINE)
    path = Path(os.path.expanduser(text.strip())).absolute()
    credential(path)
    return str(path)


def check_timeout(text: str) -> str:
    """A duration (``30s``, ``2m``) of more than nothing."""
    from aster_core.durations import parse_duration

    value = check_text(text.strip(), field="authority.timeout", max_length=64, hint=ONE_LINE)
    if parse_duration(value).total_seconds() <= 0:
        raise UsageError(f"authority.timeout must be longer than nothing, not {shown(value)}", "give e.g. 30s or 2m")
    return value


def credential(path: str | os.PathLike) -> Any:
    """The credential in ``path`` (its one peer, for an identity file), signature checked."""
    from aster_trust.credentials import check, load_credential

    cred = load_credential(path)
    verdict = check(cred)
    if not verdict.signature:
        raise UsageError(f"the credential in {path} does not carry a valid signature",
                         "make a new one with `aster enroll node --capabilities authority.admin`")
    return cred


def describe_credential(path: str | os.PathLike) -> dict[str, Any]:
    """What whoami shows of a credential: endpoint, roles, expiry."""
    from aster_trust.credentials import check

    cred = credential(path)
    verdict = check(cred)
    return {"credential": str(path), "type": cred.type, "endpoint_id": cred.endpoint_id, "roles": cred.roles(),
            "root_pubkey": cred.root_pubkey.hex(), "expires_at": cred.expires_at, "expired": verdict.expired}


def login(address: str, rcan: str) -> dict[str, Any]:
    """Check everything, then keep ``address`` and ``rcan``'s path in config.toml (one write)."""
    from aster_core.configset import change

    from .nodes import status

    address = check_address(address)
    path = check_credential(rcan)
    mine = describe_credential(path)
    if mine["expired"]:
        raise UsageError(f"the credential in {path} has expired", "make a new one with `aster enroll node`")
    info = status(address, path)  # unreachable: exit 7, nothing written
    if info.get("root_pubkey") and info["root_pubkey"] != mine["root_pubkey"]:
        raise DeniedError(f"the authority trusts the root {info['root_pubkey'][:16]}..., but this credential is "
                          f"signed by {mine['root_pubkey'][:16]}...", "use a credential of this mesh's root key")
    change({ADDRESS: address, CREDENTIAL: path})
    return {"address": address, **mine, "caller": info.get("caller"), "admin": bool(info.get("admin")),
            "overridden_by": [env for env in _ENV.values() if os.environ.get(env, "").strip()]}


def logout() -> dict[str, Any]:
    """Forget the address and credential in config.toml (the credential file stays)."""
    from aster_core.configset import change

    reports = change({ADDRESS: None, CREDENTIAL: None})
    return {"removed": [r["key"] for r in reports if r["changed"]],
            "still_set_by": [env for env in _ENV.values() if os.environ.get(env, "").strip()]}


def whoami() -> dict[str, Any]:
    """Who we are to the configured authority: our credential, and whether it answers and admits us."""
    from .nodes import status
    from .settings import admin_credential, setting

    address, path = setting(_ENV[ADDRESS], "address"), admin_credential(None)
    if not address and not path:
        raise UsageError("not logged in to an authority", LOGIN_HINT)
    out: dict[str, Any] = {"address": address, "address_from": _source(ADDRESS), "credential": path,
                           "credential_from": _source(CREDENTIAL)}
    if path:
        out.update(describe_credential(path))
    out.update(reachable=None, admitted=None, admin=None, problem=None)
    if address:
        try:
            info = status(address, path)
        except AsterError as exc:
            out.update(reachable=False, problem=exc.message)
        else:
            # the roles the authority read from our credential: none means it was not admitted
            seen = info.get("caller_roles") or []
            out.update(reachable=True, caller=info.get("caller"), admin=bool(info.get("admin")),
                       admitted=bool(seen), roles_seen=seen, authority_root=info.get("root_pubkey"))
    return out


def _source(key: str) -> str:
    return _ENV[key] if os.environ.get(_ENV[key], "").strip() else "config.toml [authority]"
