"""The profile's registry state in ``config.toml`` (the keys aster-cli 0.1.2 uses; ``docs/file-formats.md``, "Registry state").

``[profiles.<name>]`` holds ``handle``, ``handle_status`` (``unregistered`` | ``pending`` |
``verified``), ``handle_claimed_at`` (ISO 8601 UTC), ``email`` and ``published_services``
(a comma-separated list, as 0.1.2 writes it). Every change goes through
:func:`aster_core.files.update_toml` (locked, atomic, comments and unknown keys kept), and
commands change it only after the registry said yes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from aster_core.errors import NotFoundError, UsageError

STATUSES = ("unregistered", "pending", "verified")


@dataclass(frozen=True)
class ProfileState:
    profile: str
    root_pubkey: str
    handle: str
    handle_status: str
    email: str
    handle_claimed_at: str
    published: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {"profile": self.profile, "root_pubkey": self.root_pubkey, "handle": self.handle,
                "handle_status": self.handle_status, "email": self.email,
                "handle_claimed_at": self.handle_claimed_at, "published_services": list(self.published)}


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _split(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, (list, tuple)):
        items = [str(x).strip() for x in raw]
    else:
        items = [part.strip() for part in str(raw or "").split(",")]
    return tuple(sorted({x for x in items if x}))


def load(profile: str | None = None) -> ProfileState:
    """The selected profile's registry state (``--profile``, ``ASTER_PROFILE`` or the active one)."""
    from aster_core.profiles import get_profile, selected_profile_name

    name = selected_profile_name(profile)
    prof = get_profile(name)
    extra = prof.extra
    status = str(extra.get("handle_status", "") or "unregistered")
    return ProfileState(name, prof.root_pubkey, str(extra.get("handle", "") or ""), status,
                        str(extra.get("email", "") or ""), str(extra.get("handle_claimed_at", "") or ""),
                        _split(extra.get("published_services", "")))


def profile_selected() -> bool:
    """Whether a profile is selected (``--profile``, ``ASTER_PROFILE`` or an active one)."""
    from aster_core.profiles import selected_profile_name

    try:
        selected_profile_name(None)
    except NotFoundError:
        return False
    return True


def without_profile(root_pubkey: str, handle: str = "", status: str = "unregistered") -> ProfileState:
    """The state of a key used with ``--root-key FILE`` and no profile: what the registry says
    of the key (its handle and status), nothing local; :func:`update` keeps nothing."""
    return ProfileState("", root_pubkey, handle, status if status in STATUSES else "unregistered", "", "")


def update(profile: str, **changes: Any) -> None:
    """Set keys of ``[profiles.<profile>]``; ``published_services`` may be given as a list.
    No profile (``""``, a ``--root-key FILE`` without one): nothing to keep."""
    from aster_core.files import update_toml
    from aster_core.home import config_path

    if not profile:
        return
    if "published_services" in changes:
        changes["published_services"] = ",".join(_split(changes["published_services"]))

    def mutate(doc: dict[str, Any]) -> None:
        table = doc.get("profiles", {})
        entry = table.get(profile) if isinstance(table, dict) else None
        if not isinstance(entry, dict):
            raise NotFoundError(f"no profile named {profile!r}", "create one with `aster profile create NAME`")
        for key, value in changes.items():
            entry[key] = value

    update_toml(config_path(), mutate)


def require_handle(state: ProfileState, *, verified: bool) -> str:
    """The local handle; UsageError when there is none (or it is not verified and must be)."""
    if not state.handle:
        raise UsageError(f"profile {state.profile!r} has no registry handle",
                         "claim one first: aster join --handle NAME --email ADDRESS")
    if verified and state.handle_status != "verified":
        raise UsageError(f"@{state.handle} is not verified yet (status {state.handle_status})",
                         "finish registration: aster verify CODE (the code was mailed to you)")
    return state.handle
