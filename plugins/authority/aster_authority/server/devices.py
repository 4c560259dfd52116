"""Device deployments in the authority's database: registration, activation, reviews, revocation.

The device operations of a :class:`.store.Store` (same engine, same tables, same transactions;
decisions in :mod:`aster_authority.domain.devices`). Every write locks the deployment's row
first, so an activation racing a revocation, a review decision or another activation waits
for it and decides on what it committed.

A device's consumer credential is signed by the operator at provisioning, verified here like
any upload and stored under the subject ``device``; ``fetch`` releases it only while the
device is ``activated``.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
from typing import Any

import sqlalchemy as sa
from aster_core.errors import ExitCode, UsageError

from ..domain import devices
from ..domain.credentials import DEVICE, canonical_json, device_attributes, instance_item, matches
from ..domain.errors import Refusal, check_choice, invalid
from ..domain.ids import DEVICE as DEVICE_KIND
from ..domain.ids import instance_id_for, new_ulid
from ..domain.bodies import devices_body, review_body, revoke_body
from ..domain.plans import Actor, Deployment, require_enabled
from ..domain.replay import DEVICE_REGISTER, REVIEW_APPROVE, REVIEW_REJECT, REVOKE
from ..wire import DEFAULT_LIMIT, MAX_LIMIT
from .credentials import CredentialStore
from .database import endpoint, listing, page_of
from .tables import challenges, credentials, instances, review_of, revocations, reviews
from .verifying import admissible_all

CHALLENGE_TTL = 120
#: outstanding challenges one endpoint may hold (older ones are dropped)
MAX_CHALLENGES = 4


def _device_view(row: Any, expires_at: int | None = None) -> dict[str, Any]:
    state = devices.DISABLED if row.disabled and row.state != devices.REVOKED else row.state
    return {"instance_id": row.instance_id, "endpoint_id": row.endpoint_id, "state": state,
            "metadata": json.loads(row.metadata or "{}"), "created_at": row.created_at,
            "activated_at": row.activated_at, "revoked_at": row.revoked_at, "renewed_at": row.renewed_at,
            "credential_expires_at": expires_at}


class DeviceStore:
    """The device operations of one store."""

    def __init__(self, store: CredentialStore):
        self.store = store

    # -- provisioning (admin) ---------------------------------------------------------
    def template(self, deployment_id: str) -> dict[str, Any]:
        """What the operator signs for each new device of the deployment (nothing is written)."""
        s = self.store

        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep = s.load(conn, deployment_id, DEVICE_KIND)
            require_enabled(dep, "provision devices")
            return {"deployment_id": deployment_id, "type": "policy", "attributes": device_attributes(dep),
                    "expires_at": s.now() + s.policy.device_lifetime, "desired_version": dep.version,
                    "root_pubkey": s.root_pubkey.hex(), "review_mode": dep.review_mode, "max_batch": MAX_LIMIT}

        return s.read(tx)

    def register(self, deployment_id: str, docs: Any, *, actor: Actor | None = None,
                 record: Any = None) -> dict[str, Any]:
        """Register a batch of devices, all or none: each ``{endpoint_id, activation_key (base64url),
        metadata, credential}``; every credential is verified first (:mod:`.verifying`, no lock held).

        Idempotent per device: one already registered in this deployment with the same activation
        key (the same bundle: both keys come from its root secret) is left exactly as it is and
        answered ``"already": true``, so a registration whose answer was lost can be sent again.
        The same endpoint elsewhere, or with another key, is refused."""
        s = self.store
        if not isinstance(docs, list) or not 1 <= len(docs) <= MAX_LIMIT:
            raise invalid("devices", f"give a list of 1 to {MAX_LIMIT} devices", "register in batches (the CLI does)")
        now = s.now()
        checked = admissible_all(docs, s.root_pubkey, now)  # before the deployment's lock, as uploads

        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep = s.lock(conn, deployment_id, DEVICE_KIND)
            require_enabled(dep, "provision devices")
            rows, verified, seen = [], [], set()
            for n, doc in enumerate(docs):
                where = f"devices[{n}]"
                if not isinstance(doc, dict):
                    raise invalid(where, "not an object", "send {endpoint_id, activation_key, metadata, credential}")
                device = endpoint(doc.get("endpoint_id"), f"{where}.endpoint_id")
                try:
                    key = devices.unb64url(doc.get("activation_key", ""), f"{where}.activation_key", 32)
                except UsageError as exc:
                    raise invalid(f"{where}.activation_key", exc.message, "32 bytes, base64url") from None
                metadata = devices.check_metadata(doc.get("metadata", {}), f"{where}.metadata")
                if device in seen:
                    raise invalid(f"{where}.endpoint_id", "listed twice", "register each device once")
                seen.add(device)
                iid = instance_id_for(device, DEVICE_KIND)
                item = instance_item(dep, iid, device, now, s.policy)
                cred, problem = matches(checked[n], item, now, s.policy)
                if problem:
                    raise Refusal("bad_credential", f"{where}.credential: {problem}",
                                  "sign it with the mesh root key for exactly what the template asked (the CLI "
                                  "does this)", field=f"{where}.credential", exit_code=ExitCode.DENIED)
                rows.append(dict(instance_id=iid, deployment_id=deployment_id, kind=DEVICE_KIND, endpoint_id=device,
                                 state=devices.REGISTERED, disabled=False, public_key=device,
                                 activation_key=key.hex(), metadata=canonical_json(metadata), created_at=now,
                                 renewed_at=None))
                verified.append((item, cred))
            s.take_record(conn, deployment_id, record, action=DEVICE_REGISTER, actor=actor,
                          body=devices_body([r["endpoint_id"] for r in rows]))
            existing = self._registered(conn, deployment_id, rows)
            new = [n for n, r in enumerate(rows) if r["instance_id"] not in existing]
            if new:
                conn.execute(sa.insert(instances), [rows[n] for n in new])
                s.store_credentials(conn, deployment_id, [verified[n] for n in new], now, actor)
                s.history(conn, deployment_id, actor, "provision", devices=len(new),
                          already=len(rows) - len(new))
            answers = []
            for n, r in enumerate(rows):
                old = existing.get(r["instance_id"])
                answers.append({"index": n, "instance_id": r["instance_id"], "endpoint_id": r["endpoint_id"],
                                "expires_at": old["expires_at"] if old else verified[n][1].expires_at,
                                "state": old["state"] if old else devices.REGISTERED, "already": old is not None})
            return {"deployment_id": deployment_id, "desired_version": dep.version, "registered": answers}

        return s.write(tx)

    @staticmethod
    def _registered(conn: sa.Connection, deployment_id: str, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """The rows' devices already registered as these very devices (same deployment, same
        activation key): instance id -> ``{state, expires_at}``; any other holder of one of their
        instance ids is refused."""
        i = instances.c
        found = conn.execute(sa.select(i.instance_id, i.deployment_id, i.kind, i.activation_key, i.state, i.disabled,
                                       credentials.c.expires_at).select_from(instances.outerjoin(
            credentials, sa.and_(credentials.c.deployment_id == i.deployment_id,
                                 credentials.c.endpoint_id == i.endpoint_id, credentials.c.subject == DEVICE)))
            .where(i.instance_id.in_([r["instance_id"] for r in rows]))).all()
        by_id = {r["instance_id"]: n for n, r in enumerate(rows)}
        same: dict[str, dict[str, Any]] = {}
        for old in found:
            n = by_id[old.instance_id]
            if (old.deployment_id != deployment_id or old.kind != DEVICE_KIND
                    or not hmac.compare_digest(old.activation_key or "", rows[n]["activation_key"])):
                raise Refusal("exists", f"devices[{n}].endpoint_id: already instance {old.instance_id} of "
                              f"deployment {old.deployment_id}", "provision with a new root secret",
                              field=f"devices[{n}].endpoint_id")
            state = devices.DISABLED if old.disabled and old.state != devices.REVOKED else old.state
            same[old.instance_id] = {"state": state, "expires_at": old.expires_at}
        return same

    def head(self, deployment_id: str) -> dict[str, Any]:
        """The head of a device deployment's decision chain (where a reviewer's record goes)."""
        s = self.store

        def tx(conn: sa.Connection) -> dict[str, Any]:
            s.load(conn, deployment_id, DEVICE_KIND)
            return s.head_view(conn, deployment_id)

        return s.read(tx)

    # -- lists (admin) ------------------------------------------------------------------
    def instance_list(self, deployment_id: str, *, state: str | None = None, offset: int = 0,
                      limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        return self._instances(deployment_id, state, devices.DEVICE_STATES, None, offset, limit)

    def activation_list(self, deployment_id: str, *, instance_id: str | None = None, state: str | None = None,
                        offset: int = 0, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        return self._instances(deployment_id, state, devices.ACTIVATION_STATES, instance_id, offset, limit,
                               activations=True)

    def _instances(self, deployment_id: str, state: str | None, states: tuple[str, ...], instance_id: str | None,
                   offset: int, limit: int, *, activations: bool = False) -> dict[str, Any]:
        s = self.store
        page = page_of(offset, limit)
        if state:
            check_choice(state, states, "state")

        def tx(conn: sa.Connection) -> dict[str, Any]:
            s.load(conn, deployment_id, DEVICE_KIND)
            i = instances.c
            q = sa.select(instances, credentials.c.expires_at).select_from(instances.outerjoin(
                credentials, sa.and_(credentials.c.deployment_id == i.deployment_id,
                                     credentials.c.endpoint_id == i.endpoint_id,
                                     credentials.c.subject == DEVICE))).where(i.deployment_id == deployment_id)
            if instance_id:
                self._instance(conn, deployment_id, instance_id)
                q = q.where(i.instance_id == instance_id)
            if state == devices.DISABLED:
                q = q.where(i.disabled.is_(True), i.state != devices.REVOKED)
            elif state:
                q = q.where(i.state == state, sa.or_(i.disabled.is_(False), i.state == devices.REVOKED))
            elif activations:
                q = q.where(i.state.in_(states))
            rows = conn.execute(q.order_by(i.instance_id).offset(page.offset).limit(page.fetch)).all()
            return listing(page, [_device_view(r, r.expires_at) for r in rows])

        return s.read(tx)

    def _instance(self, conn: sa.Connection, deployment_id: str, instance_id: Any) -> Any:
        if not isinstance(instance_id, str) or not instance_id:
            raise invalid("instance_id", "is empty", "give a device instance id from `instances`")
        row = conn.execute(sa.select(instances).where(instances.c.instance_id == instance_id)).first()
        if row is None or row.kind != DEVICE_KIND:
            raise Refusal("not_found", f"no device {instance_id}", f"list them with `aster dev {deployment_id} "
                          "instances`", exit_code=ExitCode.NOT_FOUND)
        if row.deployment_id != deployment_id:
            raise Refusal("other_deployment", f"device {instance_id} does not belong to deployment {deployment_id}",
                          "list this deployment's devices with `instances`; that device belongs to another "
                          "deployment", exit_code=ExitCode.NOT_FOUND)
        return row

    def review_list(self, deployment_id: str, *, instance_id: str | None = None, state: str | None = None,
                    offset: int = 0, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        s = self.store
        page = page_of(offset, limit)
        if state:
            check_choice(state, devices.REVIEW_STATES, "state")

        def tx(conn: sa.Connection) -> dict[str, Any]:
            s.load(conn, deployment_id, DEVICE_KIND)
            q = sa.select(reviews, instances.c.metadata, instances.c.endpoint_id).select_from(reviews.outerjoin(
                instances, instances.c.instance_id == reviews.c.instance_id)).where(
                reviews.c.deployment_id == deployment_id)
            if instance_id:
                self._instance(conn, deployment_id, instance_id)
                q = q.where(reviews.c.instance_id == instance_id)
            if state:
                q = q.where(reviews.c.state == state)
            rows = conn.execute(q.order_by(reviews.c.review_id).offset(page.offset).limit(page.fetch)).all()
            return listing(page, [{**review_of(r).as_dict(), "endpoint_id": r.endpoint_id,
                                   "metadata": json.loads(r.metadata or "{}")} for r in rows])

        return s.read(tx)

    # -- decisions (admin, reviewers) -----------------------------------------------------
    def decide(self, deployment_id: str, review_id: Any, decision: str, *, actor: Actor,
               reason: str | None = None, record: Any = None) -> dict[str, Any]:
        """Approve (the device is activated: its credential is released) or reject a review."""
        s = self.store
        check_choice(decision, devices.DECISIONS, "decision")

        def tx(conn: sa.Connection) -> dict[str, Any]:
            s.lock(conn, deployment_id, DEVICE_KIND)
            if not isinstance(review_id, str) or not review_id:
                raise invalid("review_id", "is empty", "give a review id from `reviews list`")
            row = conn.execute(sa.select(reviews).where(reviews.c.review_id == review_id)).first()
            if row is None:
                raise Refusal("not_found", f"no review {review_id}", f"list them with `aster dev {deployment_id} "
                              "reviews list`", exit_code=ExitCode.NOT_FOUND)
            review = review_of(row)
            if review.deployment_id != deployment_id:
                raise Refusal("other_deployment", f"review {review_id} does not belong to deployment {deployment_id}",
                              "list this deployment's reviews with `reviews list`", exit_code=ExitCode.NOT_FOUND)
            inst = self._instance(conn, deployment_id, review.instance_id)
            now = s.now()
            decided = devices.decide_review(review, decision, now=now, reason=reason, actor=actor)
            s.take_record(conn, deployment_id, record, action=REVIEW_APPROVE if decision == "approved"
                          else REVIEW_REJECT, body=review_body(review_id, reason), actor=actor)
            if decided is None:
                return {"review": review.as_dict(), "changed": False, "instance_state": inst.state}
            if decision == "approved" and inst.state == devices.REVOKED:
                raise Refusal("revoked", f"device {inst.instance_id} is revoked: its review cannot be approved",
                              "reject the review; provision a new device")
            conn.execute(sa.update(reviews).where(reviews.c.review_id == review_id, reviews.c.state == "pending")
                         .values(state=decided.state, decided_at=now, reason=decided.reason,
                                 decided_by=canonical_json(decided.decided_by) if decided.decided_by else None))
            state = inst.state
            if decision == "approved" and inst.state == devices.REGISTERED:
                conn.execute(sa.update(instances).where(instances.c.instance_id == inst.instance_id)
                             .values(state=devices.ACTIVATED, activated_at=now))
                state = devices.ACTIVATED
            s.history(conn, deployment_id, actor, f"review_{decision}", review_id=review_id,
                      instance_id=inst.instance_id)
            return {"review": decided.as_dict(), "changed": True, "instance_state": state}

        return s.write(tx)

    def revoke(self, deployment_id: str, instance_id: Any, *, actor: Actor | None = None,
               record: Any = None) -> dict[str, Any]:
        """Mark the device revoked: no more release or renewal, and its endpoint on the revocation list."""
        s = self.store

        def tx(conn: sa.Connection) -> dict[str, Any]:
            s.lock(conn, deployment_id, DEVICE_KIND)
            inst = self._instance(conn, deployment_id, instance_id)
            s.take_record(conn, deployment_id, record, action=REVOKE, body=revoke_body(inst.instance_id), actor=actor)
            if inst.state == devices.REVOKED:
                return {**_device_view(inst), "changed": False}
            now = s.now()
            conn.execute(sa.update(instances).where(instances.c.instance_id == inst.instance_id)
                         .values(state=devices.REVOKED, revoked_at=now))
            conn.execute(sa.delete(revocations).where(revocations.c.deployment_id == deployment_id,
                                                      revocations.c.endpoint_id == inst.endpoint_id))
            conn.execute(sa.insert(revocations).values(deployment_id=deployment_id, endpoint_id=inst.endpoint_id,
                                                       reason="device activation revoked", revoked_at=now))
            s.history(conn, deployment_id, actor, "revoke", instance_id=inst.instance_id, was=inst.state)
            row = conn.execute(sa.select(instances).where(instances.c.instance_id == inst.instance_id)).first()
            return {**_device_view(row), "changed": True, "previous_state": inst.state}

        return s.write(tx)

    # -- activation (node-facing: ``endpoint_id`` is the connection's proven peer) ----------
    def challenge(self, endpoint_id: str, deployment_id: str) -> dict[str, Any]:
        """A fresh single-use challenge for a device of ``deployment_id`` (expires in 2 minutes)."""
        s = self.store

        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep = s.lock(conn, deployment_id, DEVICE_KIND)
            self._device_of(conn, dep, endpoint_id)
            now = s.now()
            c = challenges.c
            conn.execute(sa.delete(challenges).where(c.expires_at <= now))
            older = [r.challenge for r in conn.execute(sa.select(c.challenge).where(
                c.endpoint_id == endpoint_id).order_by(c.expires_at.desc()).offset(MAX_CHALLENGES - 1))]
            if older:
                conn.execute(sa.delete(challenges).where(c.challenge.in_(older)))
            value = devices.b64url(os.urandom(32))
            conn.execute(sa.insert(challenges).values(challenge=value, deployment_id=deployment_id,
                                                      endpoint_id=endpoint_id, expires_at=now + CHALLENGE_TTL))
            return {"challenge": value, "expires_at": now + CHALLENGE_TTL, "deployment_id": deployment_id}

        return s.write(tx)

    def _device_of(self, conn: sa.Connection, dep: Deployment, endpoint_id: str) -> Any:
        row = conn.execute(sa.select(instances).where(
            instances.c.instance_id == instance_id_for(endpoint_id, DEVICE_KIND))).first()
        if row is None or row.deployment_id != dep.deployment_id:
            raise Refusal("not_found", f"this node ({endpoint_id[:16]}...) is not a device of {dep.ref}",
                          "activate with the bundle provisioned for this deployment",
                          exit_code=ExitCode.NOT_FOUND)
        return row

    def activate(self, endpoint_id: str, deployment_id: str, challenge: Any, proof: Any) -> dict[str, Any]:
        """Check the proof over a challenge this endpoint got (consumed whatever the outcome), then
        activate, open or report the review, or refuse (:func:`devices.decide_activation`)."""
        s = self.store

        def tx(conn: sa.Connection) -> Any:
            dep = s.lock(conn, deployment_id, DEVICE_KIND)
            row = self._device_of(conn, dep, endpoint_id)
            now = s.now()
            c = challenges.c
            used = conn.execute(sa.delete(challenges).where(
                c.challenge == (challenge if isinstance(challenge, str) else ""), c.endpoint_id == endpoint_id,
                c.deployment_id == deployment_id, c.expires_at > now)).rowcount
            if not used:
                return Refusal("bad_challenge", "the activation challenge is unknown, used or expired",
                               "ask for a new challenge (the CLI does: run activate again)",
                               exit_code=ExitCode.DENIED)
            try:
                presented = base64.urlsafe_b64decode(str(proof) + "=" * (-len(str(proof)) % 4))
            except ValueError:
                presented = b""
            if not devices.proof_valid(bytes.fromhex(row.activation_key or ""),
                                       devices.unb64url(challenge, "challenge", 32), endpoint_id, deployment_id,
                                       presented):
                return Refusal("bad_proof", "the activation proof does not verify",
                               "activate with the bundle provisioned for this device",
                               exit_code=ExitCode.DENIED)
            if dep.disabled:
                return Refusal("disabled", f"{dep.ref} is disabled: devices cannot activate",
                               "ask the operator to enable it")
            open_review = conn.execute(sa.select(reviews).where(reviews.c.instance_id == row.instance_id)
                                       .order_by(reviews.c.review_id.desc())).first()
            try:
                outcome = devices.decide_activation(row.state if not row.disabled or row.state == devices.REVOKED
                                                    else devices.DISABLED, dep.review_mode,
                                                    open_review.state if open_review else None, ref=dep.ref)
            except Refusal as refusal:
                return refusal
            result = {"deployment_id": deployment_id, "instance_id": row.instance_id, "endpoint_id": endpoint_id,
                      "review_mode": dep.review_mode,
                      "review": review_of(open_review).as_dict() if open_review else None}
            if outcome == devices.ACTIVATED:
                if row.state != devices.ACTIVATED:
                    conn.execute(sa.update(instances).where(instances.c.instance_id == row.instance_id)
                                 .values(state=devices.ACTIVATED, activated_at=now))
                    s.history(conn, deployment_id, None, "activate", instance_id=row.instance_id)
                return {**result, "state": devices.ACTIVATED, "changed": row.state != devices.ACTIVATED}
            if outcome == devices.OPEN_REVIEW:
                review = devices.Review(new_ulid(now), deployment_id, row.instance_id, "pending", now)
                conn.execute(sa.insert(reviews).values(review_id=review.review_id, deployment_id=deployment_id,
                                                       instance_id=row.instance_id, state="pending",
                                                       requested_at=now))
                s.history(conn, deployment_id, None, "review_requested", review_id=review.review_id,
                          instance_id=row.instance_id)
                return {**result, "state": "pending", "review": review.as_dict(), "changed": True}
            return {**result, "state": "pending", "changed": False}

        outcome = s.write(tx)
        if isinstance(outcome, Refusal):
            raise outcome
        return outcome
