"""``aster registry login`` / ``logout`` / ``whoami``, and the check ``aster config set`` runs
on ``aster_service.node_id``.

The registry knows us by the profile's root key (every signed request), so logging in keeps
only its address: ``[aster_service] node_id`` (with ``enabled = true``), the place
aster-cli 0.1.2 reads too, written once through :func:`aster_core.configset.change` after
the registry answered. ``ASTER_SERVICE_ADDR`` and ``--registry`` still win over it.
"""

from __future__ import annotations

import os
from typing import Any

from aster_core.configset import ONE_LINE
from aster_core.errors import AsterError
from aster_core.text import check_text

from . import state as st
from .address import ENV, check_form, registry_address

NODE_ID, ENABLED = "aster_service.node_id", "aster_service.enabled"


def check_address(text: str) -> str:
    """The ``check`` of ``aster_service.node_id``: an address of a form the runtime dials."""
    check_text(text.strip(), field="registry address", max_length=4096, hint=ONE_LINE)
    return check_form(text, NODE_ID)


def probe(address: str, timeout: float) -> int:
    """Ask the registry at ``address`` for one page of its directory (a read that needs no
    key); the number of public services it holds. Unreachable: exit 7."""
    from .context import Context
    from .publication import discover

    return int(discover(Context(address, timeout=timeout), "", limit=1)["total"] or 0)


def login(address: str, *, timeout: float) -> dict[str, Any]:
    """Check the address and that the registry answers, then keep it in config.toml."""
    from aster_core.configset import change

    value = check_address(address)
    services = probe(value, timeout)
    change({NODE_ID: value, ENABLED: "true"})
    return {"address": value, "public_services": services,
            "overridden_by": ENV if os.environ.get(ENV, "").strip() else None}


def logout() -> dict[str, Any]:
    """Forget the registry's address in config.toml."""
    from aster_core.configset import change

    report = change({NODE_ID: None})[0]
    return {"removed": [NODE_ID] if report["changed"] else [],
            "still_set_by": ENV if os.environ.get(ENV, "").strip() else None}


def whoami(*, timeout: float, root_key: str | None = None) -> dict[str, Any]:
    """The configured registry (address, where from, whether it answers) and who we are on
    it: the profile's handle as the registry sees the root key."""
    from .context import Context
    from .handles import status

    address = registry_address(None)
    out: dict[str, Any] = {"address": address.value, "address_from": address.source, "reachable": False,
                           "public_services": None, "problem": None, "identity": None}
    try:
        out.update(reachable=True, public_services=probe(address.value, timeout))
    except AsterError as exc:
        out["problem"] = exc.message
        return out
    try:
        out["identity"] = status(Context(address.value, root_key=root_key, timeout=timeout))
    except AsterError as exc:  # no profile, no key, a key it does not know: it still answered
        out["problem"] = exc.message
        try:
            out["identity"] = {"local": st.load().as_dict(), "remote": None}
        except AsterError:
            pass
    return out
