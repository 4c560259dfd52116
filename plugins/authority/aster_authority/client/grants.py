"""What ``aster grants`` does, without click: list, add and remove a consumer's roles."""

from __future__ import annotations

from typing import Any, Iterable

from .. import wire as w
from ..domain import bodies
from ..domain.replay import GRANT_ADD, GRANT_REMOVE
from .connection import Authority
from .signer import decide


def grants_list(auth: Authority, deployment_id: str | None, *, limit: int = w.DEFAULT_LIMIT,
                all_pages: bool = False) -> dict[str, Any]:
    return auth.pages(w.ADMIN, "grant_list", w.Page(deployment_id=deployment_id or ""), limit=limit,
                      all_pages=all_pages)


def grant(auth: Authority, deployment_id: str, consumer: str, roles: Iterable[str], *, add: bool) -> dict[str, Any]:
    from aster_trust.keys import parse_endpoint_id

    roles = list(roles)
    body = bodies.grant_body(parse_endpoint_id(consumer), roles)  # a reserved role stops here, unsigned
    return decide(auth, deployment_id, GRANT_ADD if add else GRANT_REMOVE, body, lambda record: auth.call(
        w.ADMIN, "grant_add" if add else "grant_remove", w.GrantChange(deployment_id, consumer, roles, record)))
