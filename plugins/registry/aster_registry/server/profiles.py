"""ProfileService's operations: handle availability, join, verification (codes, resends), the
handle's status and recovery.

A verification code lives 15 minutes and allows 5 attempts; a new one may be asked for after
the resend cooldown (60 s unless the server is started with another), at most 5 times; the
whole verification must finish within an hour of joining, when the pending claim expires. The
code is mailed after the transaction commits (:class:`.mail.Mail`), never stored in clear.

An email address is proved only by its code, so a pending claim does not reserve its address:
whoever else joins with that address (another key, another handle) gets a code mailed there
too, and the first claim verified takes the address; the others' codes are then refused. (A
pending claim that reserved its address let anyone block a stranger's address for a day by
joining with it first.) A pending claim does hold its handle, for the hour.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aster_server import storage
from aster_server.request import Refused

from . import codes, protect
from .database import Database, Deferred
from .mail import Mail
from .protect import Envelope, bad
from .tables import audit, email_hash, iso, mask_email, owned, t_codes, t_handles, t_recovery, t_services

CODE_TTL_S = 15 * 60
#: how long a pending join lives: its handle is held and its codes work this long
VERIFY_WINDOW_S = 3600
CODE_ATTEMPTS = 5
#: the default seconds between two verification mails (``--resend-cooldown``)
RESEND_COOLDOWN_S = 60
MAX_RESENDS = 5
_WINDOW_PASSED = "the hour to verify this join has passed; run aster join again"


class Profiles:
    def __init__(self, db: Database, *, resend_cooldown: int = RESEND_COOLDOWN_S) -> None:
        self.db = db
        self.resend_cooldown = resend_cooldown

    def check_availability(self, handle: str) -> tuple[bool, str]:
        problem = protect.handle_problem(handle)
        if problem:
            return False, "reserved" if "reserved" in problem else f"invalid: {problem}"
        now = self.db.now()
        row = self.db.read(lambda c: c.execute(sa.select(t_handles.c.status, t_handles.c.verification_expires_at)
                                               .where(t_handles.c.handle == handle)).first())
        if row is None or (row[0] == "pending" and row[1] < now):
            return True, ""
        return False, "taken"

    def join(self, env: Envelope) -> tuple[dict[str, Any], Mail]:
        p = env.payload
        handle = protect.check_handle(p.get("handle"))
        email = protect.check_email(p.get("email"))
        announcements = p.get("announcements", False)
        if not isinstance(announcements, bool):
            raise bad("announcements must be true or false")
        ehash = email_hash(email)
        self.db.limits.hit("join_email", ehash)
        code = codes.new_code()
        code_hash = codes.hash_code(code)

        def fn(conn: Connection, env: Envelope) -> tuple[dict[str, Any], Mail]:
            now = self.db.now()
            row = storage.lock(conn, t_handles, {"handle": handle})
            if row is not None:
                live = row["status"] == "verified" or row["verification_expires_at"] >= now
                if row["pubkey"] != env.signer and live:
                    raise Refused("ALREADY_EXISTS", f"@{handle} is taken")
                if row["status"] == "verified":
                    raise Refused("ALREADY_EXISTS", f"@{handle} is already verified for this key")
            mine = conn.execute(sa.select(t_handles).where(t_handles.c.pubkey == env.signer)).mappings().first()
            if mine is not None and mine["handle"] != handle:
                if mine["status"] == "verified":
                    raise Refused("ALREADY_EXISTS", f"this key already owns @{mine['handle']}")
                conn.execute(t_handles.delete().where(t_handles.c.handle == mine["handle"]))
            if _verified_elsewhere(conn, ehash, handle):  # pending claims by others do not count
                raise Refused("ALREADY_EXISTS", "this email is already verified for another handle")
            if row is not None:
                conn.execute(t_handles.delete().where(t_handles.c.handle == handle))
            conn.execute(t_handles.insert().values(
                handle=handle, pubkey=env.signer, email=email, email_hash=ehash, status="pending",
                announcements=announcements, created_at=now, verification_expires_at=now + VERIFY_WINDOW_S))
            conn.execute(t_codes.insert().values(handle=handle, code_hash=code_hash, expires_at=now + CODE_TTL_S,
                                                 attempts=0, resends=0, sent_at=now))
            audit(conn, now, handle, "join")
            return ({"handle": handle, "status": "pending_verification",
                     "verification_expires_at": now + VERIFY_WINDOW_S, "code_expires_at": now + CODE_TTL_S},
                    Mail(email, handle, code, now + CODE_TTL_S))

        return self.db.signed(env, "join", fn)

    def verify(self, env: Envelope) -> dict[str, Any]:
        code = protect.check_str(env.payload.get("code"), "code", protect.MAX_CODE, required=True)

        def fn(conn: Connection, env: Envelope) -> Any:
            row = owned(conn, env, verified=False)
            handle = row["handle"]
            if row["status"] == "verified":
                return {"handle": handle, "status": "verified"}
            now = self.db.now()
            if row["verification_expires_at"] < now:
                raise Refused("FAILED_PRECONDITION", _WINDOW_PASSED)
            stored = conn.execute(sa.select(t_codes).where(t_codes.c.handle == handle)).mappings().first()
            if stored is None:
                raise Refused("FAILED_PRECONDITION", "no code is pending; run aster verify --resend")
            if stored["attempts"] >= CODE_ATTEMPTS:
                raise Refused("FAILED_PRECONDITION", "too many wrong codes; run aster verify --resend for a new one")
            if stored["expires_at"] < now:
                raise Refused("FAILED_PRECONDITION", "the code has expired; run aster verify --resend")
            if not codes.code_matches(stored["code_hash"], code.strip()):
                attempts = stored["attempts"] + 1
                conn.execute(t_codes.update().where(t_codes.c.handle == handle).values(attempts=attempts))
                left = CODE_ATTEMPTS - attempts
                plural = "s" if left != 1 else ""
                return Deferred(Refused("INVALID_ARGUMENT", f"invalid code ({left} attempt{plural} left)"))
            conn.execute(t_codes.delete().where(t_codes.c.handle == handle))
            if _verified_elsewhere(conn, row["email_hash"], handle):
                # another claim on this address was verified first: this one can never be, so it
                # goes (its key may join again with another address)
                conn.execute(t_handles.delete().where(t_handles.c.handle == handle))
                audit(conn, now, handle, "verify_lost", "the email was verified for another handle first")
                return Deferred(Refused("ALREADY_EXISTS", "this email was verified for another handle first; "
                                        "join again with another address"))
            # a claim verified at this moment on another replica trips the unique index on verified
            # addresses: this transaction is refused (ABORTED) and its retry lands above
            conn.execute(t_handles.update().where(t_handles.c.handle == handle).values(status="verified",
                                                                                      verified_at=now))
            audit(conn, now, handle, "verify")
            return {"handle": handle, "status": "verified"}

        return self.db.signed(env, "verify", fn)

    def resend(self, env: Envelope) -> tuple[dict[str, Any], Mail]:
        code = codes.new_code()
        code_hash = codes.hash_code(code)
        cooldown = self.resend_cooldown

        def fn(conn: Connection, env: Envelope) -> Any:
            row = owned(conn, env, verified=False)
            handle = row["handle"]
            now = self.db.now()
            if row["status"] == "verified":
                raise Refused("FAILED_PRECONDITION", f"@{handle} is already verified")
            if row["verification_expires_at"] < now:
                raise Refused("FAILED_PRECONDITION", _WINDOW_PASSED)
            stored = conn.execute(sa.select(t_codes).where(t_codes.c.handle == handle)).mappings().first()
            resends = stored["resends"] if stored else 0
            if stored and now - stored["sent_at"] < cooldown:
                wait = cooldown - (now - stored["sent_at"])
                raise Refused("RESOURCE_EXHAUSTED", f"a code was sent less than {cooldown} s ago; retry in {wait} s")
            if resends >= MAX_RESENDS:
                raise Refused("RESOURCE_EXHAUSTED", f"at most {MAX_RESENDS} resends; run aster join again later")
            storage.upsert(conn, t_codes, {"handle": handle, "code_hash": code_hash, "expires_at": now + CODE_TTL_S,
                                           "attempts": 0, "resends": resends + 1, "sent_at": now}, ["handle"])
            return ({"handle": handle, "code_expires_at": now + CODE_TTL_S},
                    Mail(row["email"], handle, code, now + CODE_TTL_S))

        return self.db.signed(env, "resend_verification", fn)

    def handle_status(self, env: Envelope) -> dict[str, Any]:
        def fn(conn: Connection, env: Envelope) -> dict[str, Any]:
            row = conn.execute(sa.select(t_handles).where(t_handles.c.pubkey == env.signer)).mappings().first()
            if row is None:
                raise Refused("NOT_FOUND", "no handle is registered for this key; run aster join")
            status = row["status"]
            if status == "pending" and row["verification_expires_at"] < self.db.now():
                raise Refused("NOT_FOUND", "the pending handle expired; run aster join again")
            count = conn.execute(sa.select(sa.func.count()).select_from(t_services)
                                 .where(t_services.c.handle == row["handle"])).scalar_one()
            return {"handle": row["handle"], "status": status, "email_masked": mask_email(row["email"]),
                    "display_name": row["display_name"], "bio": row["bio"], "url": row["url"],
                    "registered_at": iso(row["created_at"]), "services_published": count,
                    "recovery_codes_remaining": _codes_left(conn, row["handle"])}

        return self.db.signed(env, "handle_status", fn)

    def recover(self, env: Envelope) -> dict[str, Any]:
        """Rebind a verified handle to the signing key, spending one recovery code."""
        code = protect.check_str(env.payload.get("code"), "code", 64, required=True)
        handle = protect.check_handle(env.payload.get("handle"))

        def fn(conn: Connection, env: Envelope) -> Any:
            row = storage.lock(conn, t_handles, {"handle": handle})
            hit = None
            if row is not None and row["status"] == "verified":
                hit = conn.execute(sa.select(t_recovery.c.id).where(
                    t_recovery.c.handle == handle, t_recovery.c.code_hash == codes.recovery_hash(code),
                    t_recovery.c.used_at.is_(None))).first()
            if hit is None:
                raise Refused("PERMISSION_DENIED", f"recovery code not valid for @{handle}")
            other = conn.execute(sa.select(t_handles.c.handle).where(t_handles.c.pubkey == env.signer,
                                                                     t_handles.c.handle != handle)).first()
            if other is not None:
                raise Refused("ALREADY_EXISTS", f"this key already owns @{other[0]}")
            now = self.db.now()
            conn.execute(t_recovery.update().where(t_recovery.c.id == hit[0]).values(used_at=now))
            conn.execute(t_handles.update().where(t_handles.c.handle == handle).values(pubkey=env.signer))
            audit(conn, now, handle, "recover", env.signer)
            return {"handle": handle, "status": "verified", "recovery_codes_remaining": _codes_left(conn, handle)}

        return self.db.signed(env, "recover", fn)


def _verified_elsewhere(conn: Connection, ehash: str, handle: str) -> bool:
    """Another handle holds this email address verified."""
    return conn.execute(sa.select(t_handles.c.handle).where(
        t_handles.c.email_hash == ehash, t_handles.c.status == "verified", t_handles.c.handle != handle)).first() is not None


def _codes_left(conn: Connection, handle: str) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(t_recovery).where(
        t_recovery.c.handle == handle, t_recovery.c.used_at.is_(None))).scalar_one()
