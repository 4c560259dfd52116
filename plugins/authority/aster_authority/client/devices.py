"""What the device commands of ``aster dev`` do on the operator's machine, without click: the
admin and reviewer calls for devices, activations and reviews.

Deployment-level work (create, show, apply, plans, accept, reconcile, disable, remove) is
:mod:`.deployments` and :mod:`.signing` with ``kind="device"``; only what is device-specific
is here. Provisioning (keys, signed credentials, bundles, registration) is
:mod:`.provisioning`, and what the device itself runs is :mod:`.activation`.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from aster_core.errors import DeniedError

from .. import wire as w
from ..domain.ids import DEVICE
from ..domain import bodies
from ..domain import replay as actions
from . import deployments
from .connection import Authority
from . import signer


def create(auth: Authority, deployment_id: str, *, review_mode: str = "none",
           roles: Iterable[str] = ()) -> dict[str, Any]:
    return deployments.create(auth, deployment_id, kind=DEVICE, review_mode=review_mode, roles=roles)


def _page(auth: Authority, service: str, method: str, deployment_id: str, *, instance_id: str | None = None,
          state: str | None = None, limit: int = w.DEFAULT_LIMIT, all_pages: bool = False) -> dict[str, Any]:
    return auth.pages(service, method, w.DevicePage(deployment_id, instance_id or "", state or ""), limit=limit,
                      all_pages=all_pages)


def instances(auth: Authority, deployment_id: str, *, state: str | None = None, limit: int = w.DEFAULT_LIMIT,
              all_pages: bool = False) -> dict[str, Any]:
    return _page(auth, w.DEVICE_ADMIN, "instances", deployment_id, state=state, limit=limit, all_pages=all_pages)


def activations(auth: Authority, deployment_id: str, *, instance_id: str | None = None, state: str | None = None,
                limit: int = w.DEFAULT_LIMIT, all_pages: bool = False) -> dict[str, Any]:
    return _page(auth, w.DEVICE_ADMIN, "activations", deployment_id, instance_id=instance_id, state=state, limit=limit,
                 all_pages=all_pages)


def revoke(auth: Authority, deployment_id: str, instance_id: str) -> dict[str, Any]:
    return signer.decide(auth, deployment_id, actions.REVOKE, bodies.revoke_body(instance_id), lambda record: auth.call(
        w.DEVICE_ADMIN, "revoke", w.DeviceInstance(deployment_id, instance_id, record)), kind=DEVICE)


def _as_reviewer(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except DeniedError as exc:
        if "authority.admin" not in exc.message:
            raise
        raise DeniedError("the authority refused: this credential holds neither authority.admin nor "
                          "authority.review", "pass --rcan FILE with an admin or reviewer credential (aster enroll "
                          "node --role consumer --name reviewer --capabilities authority.review)") from None


def reviews(auth: Authority, deployment_id: str, *, instance_id: str | None = None, state: str | None = None,
            limit: int = w.DEFAULT_LIMIT, all_pages: bool = False) -> dict[str, Any]:
    return _as_reviewer(lambda: _page(auth, w.DEVICE_REVIEW, "reviews", deployment_id, instance_id=instance_id,
                                      state=state, limit=limit, all_pages=all_pages))


def decide(auth: Authority, deployment_id: str, review_id: str, decision: str, *,
           reason: str | None = None) -> dict[str, Any]:
    action = actions.REVIEW_APPROVE if decision == "approved" else actions.REVIEW_REJECT
    return _as_reviewer(lambda: signer.decide(auth, deployment_id, action, bodies.review_body(review_id, reason),
                                       lambda record: auth.call(w.DEVICE_REVIEW, "decide", w.ReviewDecision(
                                           deployment_id, review_id, decision, reason or "", record)), kind=DEVICE))
