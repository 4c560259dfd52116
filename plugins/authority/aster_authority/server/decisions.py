"""Decision records and signers in the authority's database: the check of a record in the
transaction of the change it decides, the chains (paged), checkpoints, and the admins and
reviewers the authority admitted (list, revoke).

Every mutating admin or review operation calls :meth:`ChainStore.take_record` inside its own
transaction, after it locked the deployment's row: the record must verify
(:func:`aster_authority.domain.decisions.verify_record`: signature, root, role, binding, expiry,
``seq``/``prev`` extending the stored chain), be signed by the connection's peer, decided within
:data:`CLOCK_SKEW` of the authority's clock, and carry exactly the body the request means
(:mod:`aster_authority.domain.bodies`). Anything else raises, so the change rolls back with it:
nothing is stored. Two writers of one chain queue on the deployment's row; the chain of a
deployment being created, and the authority-wide chain, have no row to lock, so the key
``(deployment_id, seq)`` refuses the second writer of one ``seq``.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Mapping

import sqlalchemy as sa
from aster_core.errors import ExitCode
from aster_server.prepared import PreparedRead

from ..domain import decisions
from ..domain.credentials import canonical_json
from ..domain.decisions import AUTHORITY_CHAIN, GENESIS, ChainRefusal, Head
from ..domain.errors import Refusal, check_note
from ..domain.ids import DEVICE, RESERVED_PREFIX, check_deployment_id
from ..domain.plans import Actor
from ..domain.replay import ACTIVE, REGISTERED, REVOKED, Instance, State, services_of_manifests
from ..wire import CHAIN_MOVED, DEFAULT_LIMIT
from .database import Database, endpoint, keep_head, listing, locked_head, page_of
from .tables import deployment_of, deployments, grants, instances, records, signers

#: how far a record's ``decided_at`` may be from the authority's clock, in seconds
CLOCK_SKEW = 300
#: a signer's revocation and when it was last recorded, read before every admin and review call
#: (without SQLAlchemy's per-statement machinery: 0.2-0.45 ms of each call through it)
_SIGNER_STATUS = PreparedRead(sa.select(signers.c.revoked_at, signers.c.reason, signers.c.last_seen)
                              .where(signers.c.endpoint_id == sa.bindparam("endpoint_id")))


def chain_id(value: Any) -> str:
    return value if value == AUTHORITY_CHAIN else check_deployment_id(value)


class ChainStore(Database):
    """Decision records and signers (their own transactions, and parts of every decision's)."""

    def __init__(self, *args: Any, **kw: Any):
        super().__init__(*args, **kw)
        #: signers admitted and not yet written: endpoint -> (name, roles, credential expiry, seen at)
        self._sightings: dict[str, tuple[str, tuple[str, ...], int, int]] = {}
        self._sightings_lock = threading.Lock()
        #: (credential as canonical JSON, endpoint) of credentials shown and verified -> their expiry
        self._verified: dict[tuple[str, str], int] = {}
        #: records' signer credentials checked against the root (canonical JSON -> credential):
        #: each admin's records carry the same one, so its signature is verified once, not per decision
        self._record_credentials: dict[str, Any] = {}

    # -- the chain ---------------------------------------------------------------------
    def head(self, conn: sa.Connection, chain: str) -> Head:
        locked = locked_head(conn, chain)
        if locked is not None:  # read with the deployment's row lock, in this transaction
            return locked
        row = conn.execute(sa.select(records.c.seq, records.c.hash, records.c.decided_at).where(
            records.c.deployment_id == chain).order_by(records.c.seq.desc()).limit(1)).first()
        return Head(0, GENESIS) if row is None else Head(row.seq, row.hash, row.decided_at)

    def take_record(self, conn: sa.Connection, chain: str, doc: Any, *, action: str, body: Mapping[str, Any],
                    actor: Actor | None) -> decisions.Record:
        """Check ``doc`` as the next record of ``chain`` deciding ``action`` with ``body``, signed by
        ``actor`` (the connection's peer), and store it; a Refusal otherwise (the caller's
        transaction rolls back)."""
        if doc is None:
            raise Refusal("no_record", f"{action} needs a signed decision record", "use an aster CLI that signs "
                          "decisions, with an admin identity file (--rcan) holding its node key",
                          field="record_json", exit_code=ExitCode.DENIED)
        if isinstance(doc, Mapping) and doc.get("deployment_id") != chain:
            raise ChainRefusal("link", f"the record is of {str(doc.get('deployment_id'))[:64]!r}, not {chain}")
        head = self.head(conn, chain)
        now = self.now()
        if isinstance(doc, Mapping) and isinstance(doc.get("seq"), int) and doc.get("seq") != head.seq + 1:
            raise Refusal("chain_moved", f"{CHAIN_MOVED}: the record is number {doc.get('seq')}, the chain of "
                          f"{chain} is at {head.seq}", "run the command again (the CLI signs against the new head)")
        if head.seq == 0 and chain != AUTHORITY_CHAIN and action != decisions.CREATE \
                and self.state_of(conn, chain) is not None:
            raise Refusal("checkpoint_needed", f"{chain} was made before decision records: its chain must start "
                          "with a checkpoint signed with the root key", "reconcile it once with the root key "
                          f"(aster svc|dev {chain} authority reconcile): it shows the state and signs the checkpoint")
        if len(self._record_credentials) >= VERIFIED_KEPT:
            self._record_credentials.clear()
        # the signer's revocation is checked below, against its own row (read as it is marked seen)
        found = decisions.verify_record(doc, root_pubkey=self.root_pubkey, expected_prev=head.hash,
                                        expected_seq=head.seq + 1, not_before=head.decided_at,
                                        credentials=self._record_credentials)
        if actor is None or found.signer != actor.endpoint_id:
            raise ChainRefusal("binding", "the record is signed by another node than the caller",
                               "sign with the identity you connect with (--rcan)", seq=doc["seq"])
        if abs(doc["decided_at"] - now) > CLOCK_SKEW:
            raise ChainRefusal("time", f"decided at {doc['decided_at']}, {doc['decided_at'] - now:+d} s from the "
                               "authority's clock", "check this machine's clock", seq=doc["seq"])
        if doc["action"] != action or doc["body"] != dict(body):
            raise ChainRefusal("body", f"the record decides {doc['action']} {canonical_json(doc['body'])[:200]}, "
                               f"the request is {action} {canonical_json(dict(body))[:200]}",
                               "sign exactly what you send (the CLI does)", seq=doc["seq"])
        revoked = self.seen(conn, found.signer, found.signer_name, found.roles, found.credential_expires_at, now)
        if revoked is not None:  # refused at once, whatever time the record claims (the update rolls back)
            raise ChainRefusal("revoked", f"the signer {found.signer[:16]}... is revoked "
                               f"({revoked.get('reason') or 'no reason given'})",
                               "ask another admin; a revoked admin decides nothing", seq=doc["seq"])
        conn.execute(sa.insert(records).values(deployment_id=chain, seq=doc["seq"], hash=found.hash, action=action,
                                               signer=found.signer, decided_at=doc["decided_at"], stored_at=now,
                                               record=found.text))
        keep_head(conn, chain, Head(doc["seq"], found.hash, doc["decided_at"]))
        self.flush_sightings(conn)
        return found

    def chain(self, chain: Any, *, offset: int = 0, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        """A chain's records from ``offset`` (0: record 1), paged like every list, with its head."""
        chain = chain_id(chain)
        page = page_of(offset, limit)

        def tx(conn: sa.Connection) -> dict[str, Any]:
            rows = conn.execute(sa.select(records.c.record).where(records.c.deployment_id == chain)
                                .order_by(records.c.seq).offset(page.offset).limit(page.fetch)).all()
            out = listing(page, [json.loads(r.record) for r in rows])
            out.update(self.head_view(conn, chain))
            return out

        return self.read(tx)

    def head_view(self, conn: sa.Connection, chain: str) -> dict[str, Any]:
        """The head, and for a deployment made before decision records (no record yet) the state a
        root-signed checkpoint must hold."""
        head = self.head(conn, chain)
        out: dict[str, Any] = {"deployment_id": chain, "head": {"seq": head.seq, "hash": head.hash,
                                                               "decided_at": head.decided_at}}
        if head.seq == 0 and chain != AUTHORITY_CHAIN:
            state = self.state_of(conn, chain)
            out["checkpoint_needed"] = state is not None
            out["state"] = state.as_dict() if state is not None else None
        return out

    def chain_head(self, chain: Any) -> dict[str, Any]:
        chain = chain_id(chain)
        return self.read(lambda conn: self.head_view(conn, chain))

    def checkpoint(self, kind: str, deployment_id: str, doc: Any, *, actor: Actor | None = None) -> dict[str, Any]:
        """Start the chain of a deployment made before decision records with a root-signed checkpoint
        whose body is exactly the state the tables hold."""
        def tx(conn: sa.Connection) -> dict[str, Any]:
            self.lock(conn, deployment_id, kind)
            head = self.head(conn, deployment_id)
            if head.seq:
                raise Refusal("has_chain", f"{deployment_id} already has {head.seq} decision record(s)",
                              "a checkpoint only starts a chain; nothing to do")
            found = decisions.verify_record(doc, root_pubkey=self.root_pubkey, expected_prev=GENESIS, expected_seq=1)
            if doc["action"] != decisions.CHECKPOINT or doc["deployment_id"] != deployment_id:
                raise ChainRefusal("action", "not a checkpoint of this deployment", seq=1)
            state = self.state_of(conn, deployment_id)
            if state is None or doc["body"] != state.as_dict():
                raise ChainRefusal("body", "the checkpoint's state is not the authority's", "show the state again "
                                   "and sign what it holds now", seq=1)
            now = self.now()
            conn.execute(sa.insert(records).values(deployment_id=deployment_id, seq=1, hash=found.hash,
                                                   action=decisions.CHECKPOINT, signer=found.signer,
                                                   decided_at=doc["decided_at"], stored_at=now,
                                                   record=found.text))
            keep_head(conn, deployment_id, Head(1, found.hash, doc["decided_at"]))
            self.history(conn, deployment_id, actor, "checkpoint", hash=found.hash)
            return {"deployment_id": deployment_id, "head": {"seq": 1, "hash": found.hash,
                                                             "decided_at": doc["decided_at"]}}

        return self.write(tx)

    # -- the state the tables hold --------------------------------------------------------
    def state_of(self, conn: sa.Connection, deployment_id: str) -> State | None:
        """The deployment as :mod:`aster_authority.domain.replay` sees it, read from the tables
        (None: no such deployment). Replaying its chain must give exactly this."""
        row = conn.execute(sa.select(deployments).where(deployments.c.deployment_id == deployment_id)) \
            .mappings().first()
        if row is None:
            return None
        dep = deployment_of(row)
        state = State(deployment_id, kind=dep.kind, disabled=dep.disabled, roles=dep.roles,
                      namespaces=dep.namespaces, compatibility=dep.compatibility, review_mode=dep.review_mode,
                      desired_digest=dep.desired_digest)
        if dep.desired_manifests:
            state.desired_services = tuple((s, v) for s, v in services_of_manifests(dep.desired_manifests))
        for r in conn.execute(sa.select(instances.c.instance_id, instances.c.endpoint_id, instances.c.state,
                                        instances.c.disabled).where(instances.c.deployment_id == deployment_id)):
            live = ACTIVE if dep.kind != DEVICE else REGISTERED  # a device's activation is not a decision
            state.instances[r.instance_id] = Instance(r.endpoint_id, REVOKED if r.state == REVOKED else live,
                                                      bool(r.disabled))
        held: dict[str, list[str]] = {}
        for r in conn.execute(sa.select(grants.c.consumer, grants.c.role).where(
                grants.c.deployment_id == deployment_id)):
            held.setdefault(r.consumer, []).append(r.role)
        state.grants = {k: tuple(sorted(v)) for k, v in held.items()}
        return state

    # -- signers ----------------------------------------------------------------------------
    def seen(self, conn: sa.Connection, endpoint_id: str, name: str, roles: tuple[str, ...] | list[str],
             expires_at: int | None, now: int) -> dict[str, Any] | None:
        """Record a sighting of the signer; its revocation (``revoked_at``, ``reason``) when it is
        revoked, else None (read by the same statement)."""
        values = {"name": name, "roles": ",".join(roles), "last_seen": now}
        if expires_at is not None:
            values["credential_expires_at"] = expires_at
        mark = sa.update(signers).where(signers.c.endpoint_id == endpoint_id).values(**values) \
            .returning(signers.c.revoked_at, signers.c.reason)
        row = conn.execute(mark).first()
        if row is None:
            try:
                with conn.begin_nested():  # a first sighting racing another one: the other's row is as good
                    conn.execute(sa.insert(signers).values(endpoint_id=endpoint_id, first_seen=now,
                                                           **{"credential_expires_at": expires_at, **values}))
            except sa.exc.IntegrityError:
                row = conn.execute(mark).first()
        if row is None or row.revoked_at is None:
            return None
        return {"revoked_at": row.revoked_at, "reason": row.reason}

    def admit(self, who: Actor, roles: list[str], credential: Any) -> None:
        """Every admin and review method starts here: a revoked signer is refused, and so is a
        caller that does not show the bound credential it was admitted with; the signer is
        recorded (name, roles, first and last seen, credential expiry)."""
        if credential is None:
            raise Refusal("unbound", "this admin or reviewer credential is not bound to the calling node (or was "
                          "not shown)", "enroll a bound one: aster enroll node --role consumer --name NAME "
                          "--capabilities authority.admin, and pass its identity file with --rcan",
                          exit_code=ExitCode.DENIED)
        if credential.endpoint_id is None:
            raise Refusal("unbound", "this admin or reviewer credential is bound to no endpoint: it would work "
                          "from any node", "enroll a bound one: aster enroll node --role consumer --name NAME "
                          "--capabilities authority.admin", exit_code=ExitCode.DENIED)
        problems = self.credential_problems(credential, who.endpoint_id)
        if problems:
            raise Refusal("unbound", f"the credential shown is not valid for the calling node ({problems})",
                          "pass the identity file this node was enrolled with (--rcan)", exit_code=ExitCode.DENIED)
        # the authority roles the connection was admitted with must be held by the bound credential too
        # (else an unbound admin credential plus any bound one would pass)
        missing = {r for r in roles if r.startswith(RESERVED_PREFIX)} - set(credential.roles())
        if missing:
            raise Refusal("unbound", f"the credential shown does not hold {', '.join(sorted(missing))}, which this "
                          "connection was admitted with", "connect and sign with the same identity file (--rcan)",
                          exit_code=ExitCode.DENIED)

        # read on every call, not kept: another replica's revocation must refuse at once too
        row = _SIGNER_STATUS.first(self.engine, endpoint_id=who.endpoint_id)
        if row is not None and row[0] is not None:
            raise Refusal("revoked", f"this admin ({who.endpoint_id[:16]}...) was revoked: {row[1]}",
                          "ask another admin (aster authority admins list)", exit_code=ExitCode.DENIED)
        now = self.now()
        if row is None or now - row[2] >= SEEN_EVERY:
            # written with the next decision or `admins list`: a read never waits for the write lock
            with self._sightings_lock:
                self._sightings[who.endpoint_id] = (who.name, tuple(credential.roles()), credential.expires_at, now)

    def credential_problems(self, credential: Any, endpoint_id: str) -> str:
        """Why ``credential`` is not a valid one of ``endpoint_id`` under the mesh root ("" when it is).
        A verified credential is remembered until it expires: every admin call shows it again (a
        `plan list --all` shows it once per page) and one ed25519 verification costs more than the page."""
        from aster_trust.credentials import check

        key = (canonical_json(credential.to_dict()), endpoint_id)  # all of it: not the signature alone
        now = self.now()
        if self._verified.get(key, 0) > now:
            return ""
        if credential.endpoint_id != endpoint_id:
            return "it is bound to another endpoint"
        found = check(credential, trusted_root=self.root_pubkey, now=now)
        if not found.ok:
            return "; ".join(found.problems())
        if len(self._verified) >= VERIFIED_KEPT:
            self._verified.clear()
        self._verified[key] = credential.expires_at
        return ""

    def flush_sightings(self, conn: sa.Connection) -> None:
        """Write the signers :meth:`admit` saw since the last flush (inside a write transaction)."""
        with self._sightings_lock:
            pending, self._sightings = self._sightings, {}
        for endpoint_id, (name, roles, expires_at, at) in pending.items():
            self.seen(conn, endpoint_id, name, roles, expires_at, at)

    def signer_list(self, *, offset: int = 0, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        page = page_of(offset, limit)
        if self._sightings:
            self.write(self.flush_sightings)

        def tx(conn: sa.Connection) -> dict[str, Any]:
            rows = conn.execute(sa.select(signers).order_by(signers.c.first_seen, signers.c.endpoint_id)
                                .offset(page.offset).limit(page.fetch)).all()
            return listing(page, [{"endpoint_id": r.endpoint_id, "name": r.name,
                                   "roles": [x for x in r.roles.split(",") if x], "first_seen": r.first_seen,
                                   "last_seen": r.last_seen, "credential_expires_at": r.credential_expires_at,
                                   "revoked_at": r.revoked_at, "revoked_by": r.revoked_by, "reason": r.reason}
                                  for r in rows])

        return self.read(tx)

    def revoke_signer(self, target: Any, reason: Any, doc: Any, *, actor: Actor | None) -> dict[str, Any]:
        """Revoke an admin or reviewer: a decision on the authority-wide chain; refused at once on
        every admin and review method from then on."""
        target = endpoint(target, "endpoint_id")
        note = check_note(reason if isinstance(reason, str) else "", "reason")
        if not note:
            raise Refusal("invalid", "reason: give the reason for the revocation", "pass --reason TEXT",
                          field="reason", exit_code=ExitCode.USAGE)
        from ..domain.bodies import admin_revoke_body

        def tx(conn: sa.Connection) -> dict[str, Any]:
            self.take_record(conn, AUTHORITY_CHAIN, doc, action=decisions.ADMIN_REVOKE,
                             body=admin_revoke_body(target, note), actor=actor)
            now = self.now()
            values = {"revoked_at": doc["decided_at"], "revoked_by": actor.endpoint_id if actor else "",
                      "reason": note}
            changed = conn.execute(sa.update(signers).where(signers.c.endpoint_id == target,
                                                           signers.c.revoked_at.is_(None)).values(**values)).rowcount
            if not changed and conn.execute(sa.select(signers.c.endpoint_id).where(
                    signers.c.endpoint_id == target)).first() is None:
                conn.execute(sa.insert(signers).values(endpoint_id=target, name="", roles="", first_seen=now,
                                                       last_seen=now, **values))
            return {"endpoint_id": target, "revoked": True, "reason": note, "revoked_at": doc["decided_at"]}

        try:
            return self.write(tx)
        except sa.exc.IntegrityError:  # the authority-wide chain has no row to lock: the key settles a race
            raise Refusal("chain_moved", f"{CHAIN_MOVED}: another admin revocation was stored first",
                          "run the command again") from None


#: a signer's ``last_seen`` is written at most this often (seconds): reads stay reads
SEEN_EVERY = 60
#: verified credentials remembered (then forgotten all at once: a handful of admins is the rule)
VERIFIED_KEPT = 1024
