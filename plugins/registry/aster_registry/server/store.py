"""The registry's storage: every operation of the three services, one transaction each.

Handlers in :mod:`.service` are thin: they open the envelope (:mod:`.protect`), then call one
method here. Signed operations go through :meth:`Store.signed`: the rate-limit window is
counted in its own transaction (so refused requests count too), then the nonce is recorded
and the operation runs in **one** transaction, so a refused request stores nothing and a
nonce is spent only by a request that was carried out. Verification codes and recovery codes
are stored hashed. Times are epoch seconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from aster_server.storage import run_transaction

from . import protect, search
from .protect import Envelope, Refused, bad

MIGRATIONS = "aster_registry.server.migrations"

CODE_TTL_S = 15 * 60
VERIFY_WINDOW_S = 24 * 3600
CODE_ATTEMPTS = 5
RESEND_COOLDOWN_S = 60
MAX_RESENDS = 5
RECOVERY_CODES = 8
DEFAULT_ENDPOINT_TTL = 300

#: ``name: (count, seconds)`` per window (registry.md §4.3, plus our own for the rest).
LIMITS: dict[str, tuple[int, int]] = {
    "check_availability": (30, 60), "join": (3, 3600), "join_email": (3, 3600), "verify": (10, 300),
    "resend_verification": (5, 3600), "recover": (5, 3600), "handle_status": (60, 60),
    "publish": (30, 60), "register_endpoint": (120, 60), "signed": (120, 60), "read": (600, 60),
}

meta = sa.MetaData()
t_meta = sa.Table("registry_meta", meta, sa.Column("key", sa.String, primary_key=True), sa.Column("value", sa.Text))
t_handles = sa.Table(
    "registry_handles", meta,
    *(sa.Column(n, sa.String) for n in ("handle", "pubkey", "email", "email_hash", "status", "display_name", "bio",
                                         "url")),
    sa.Column("announcements", sa.Boolean),
    *(sa.Column(n, sa.BigInteger) for n in ("created_at", "verified_at", "verification_expires_at",
                                             "last_published_at")),
    sa.Column("version", sa.Integer))
t_codes = sa.Table("registry_codes", meta, sa.Column("handle", sa.String), sa.Column("code_hash", sa.Text),
                   *(sa.Column(n, sa.BigInteger) for n in ("expires_at", "attempts", "resends", "sent_at")))
t_nonces = sa.Table("registry_nonces", meta, sa.Column("signer", sa.String, primary_key=True),
                    sa.Column("nonce", sa.String, primary_key=True), sa.Column("seen_at", sa.BigInteger))
t_rate = sa.Table("registry_rate", meta, sa.Column("bucket", sa.String, primary_key=True),
                  sa.Column("window_end", sa.BigInteger), sa.Column("count", sa.Integer))
t_services = sa.Table(
    "registry_services", meta, sa.Column("id", sa.Integer, primary_key=True),
    *(sa.Column(n, sa.String) for n in ("handle", "service_name", "name_lower", "contract_id", "description",
                                         "status", "replacement", "visibility", "token_id")),
    sa.Column("manifest_json", sa.Text), sa.Column("delegation_json", sa.Text), sa.Column("search_text", sa.Text),
    *(sa.Column(n, sa.Integer) for n in ("version", "method_count")),
    *(sa.Column(n, sa.BigInteger) for n in ("published_at", "updated_at")))
t_endpoints = sa.Table("registry_endpoints", meta, sa.Column("service_id", sa.Integer, primary_key=True),
                       sa.Column("node_id", sa.String, primary_key=True), sa.Column("relay", sa.String),
                       sa.Column("direct_addrs", sa.Text),
                       *(sa.Column(n, sa.BigInteger) for n in ("registered_at", "ttl", "expires_at")))
t_grants = sa.Table("registry_grants", meta, sa.Column("service_id", sa.Integer, primary_key=True),
                    sa.Column("consumer_handle", sa.String, primary_key=True),
                    *(sa.Column(n, sa.String) for n in ("role", "scope", "scope_node_id")),
                    sa.Column("granted_at", sa.BigInteger))
t_recovery = sa.Table("registry_recovery_codes", meta, sa.Column("id", sa.Integer, primary_key=True),
                      sa.Column("handle", sa.String), sa.Column("code_hash", sa.String),
                      sa.Column("used_at", sa.BigInteger))
t_audit = sa.Table("registry_audit", meta, sa.Column("id", sa.Integer, primary_key=True),
                   sa.Column("at", sa.BigInteger), sa.Column("handle", sa.String), sa.Column("action", sa.String),
                   sa.Column("detail", sa.Text))


def iso(epoch: int | None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)) if epoch else ""


def email_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def mask_email(email: str) -> str:
    name, _, domain = email.partition("@")
    return f"{name[:1]}***@{domain}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Mail:
    """A verification code to deliver once the transaction committed."""

    to: str
    handle: str
    code: str
    expires_at: int


@dataclass
class Deferred:
    """A refusal raised after committing (the failed attempt itself must be remembered)."""

    refusal: Refused


_HASHER: Any = None


def _hasher() -> Any:
    global _HASHER
    if _HASHER is None:
        from argon2 import PasswordHasher

        _HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)  # Argon2id
    return _HASHER


def hash_code(code: str) -> str:
    return _hasher().hash(code)


def code_matches(stored: str, code: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(stored, code)
    except (VerificationError, InvalidHashError):
        return False


def _recovery_hash(code: str) -> str:
    return hashlib.sha256(("aster-recovery:" + code.strip().lower()).encode()).hexdigest()


class Store:
    """The registry database. ``clock`` returns epoch seconds (tests may pass their own)."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time,
                 limits: dict[str, tuple[int, int]] | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.limits = {**LIMITS, **(limits or {})}
        self._token_key = self._ensure_token_key()
        with engine.connect() as conn:
            #: how word queries are served: "fts5", "pg_trgm+tsvector" or "scan" (SQLite without FTS5)
            self.search_backend = search.backend(conn)

    def now(self) -> int:
        return int(self.clock())

    def tx(self, fn: Callable[[Connection], Any], *, write: bool = True) -> Any:
        return run_transaction(self.engine, fn, write=write)

    # ------------------------------------------------------------------ shared pieces

    def _ensure_token_key(self) -> bytes:
        def body(conn: Connection) -> str:
            row = conn.execute(sa.select(t_meta.c.value).where(t_meta.c.key == "token_key")).first()
            if row:
                return row[0]
            value = _b64(secrets.token_bytes(32))
            conn.execute(_insert_ignore(conn, t_meta, {"key": "token_key", "value": value}, ["key"]))
            return conn.execute(sa.select(t_meta.c.value).where(t_meta.c.key == "token_key")).scalar_one()

        return _unb64(self.tx(body))

    def rate(self, name: str, subject: str) -> None:
        """Count one request of ``name`` by ``subject``; RESOURCE_EXHAUSTED past the limit."""
        count_max, period = self.limits.get(name, self.limits["signed"])
        now = self.now()
        window = now // period
        bucket = f"{name}:{subject}:{window}"
        end = (window + 1) * period

        def body(conn: Connection) -> int:
            conn.execute(_upsert_increment(conn, bucket, end))
            return conn.execute(sa.select(t_rate.c.count).where(t_rate.c.bucket == bucket)).scalar_one()

        count = self.tx(body)
        if count > count_max:
            raise Refused("RESOURCE_EXHAUSTED",
                          f"rate limit for {name}: {count_max} per {_period(period)}; retry in {end - now} s")

    def signed(self, env: Envelope, limit: str, fn: Callable[[Connection, Envelope], Any]) -> Any:
        """Rate-limit, then nonce + ``fn`` in one transaction. ``fn`` may return
        :class:`Deferred` to commit and still refuse."""
        self.rate(limit, env.signer)
        now = self.now()

        def body(conn: Connection) -> Any:
            exists = conn.execute(sa.select(t_nonces.c.nonce).where(
                t_nonces.c.signer == env.signer, t_nonces.c.nonce == env.nonce)).first()
            if exists:
                raise Refused("ALREADY_EXISTS", "this request was already received (replayed nonce); "
                                                "send a new request")
            try:
                with conn.begin_nested():
                    conn.execute(t_nonces.insert().values(signer=env.signer, nonce=env.nonce, seen_at=now))
            except sa.exc.IntegrityError:
                raise Refused("ALREADY_EXISTS", "this request was already received (replayed nonce); "
                                                "send a new request") from None
            return fn(conn, env)

        try:
            result = self.tx(body)
        except sa.exc.IntegrityError as exc:  # a racing replica inserted the same nonce first
            if "registry_nonces" in str(exc) or "nonce" in str(exc).lower():
                raise Refused("ALREADY_EXISTS", "this request was already received (replayed nonce); "
                                                "send a new request") from None
            raise Refused("ABORTED", "a concurrent request changed the same record; nothing was stored, "
                                     "send the request again") from None
        if isinstance(result, Deferred):
            raise result.refusal
        return result

    def _audit(self, conn: Connection, handle: str | None, action: str, detail: str = "") -> None:
        conn.execute(t_audit.insert().values(at=self.now(), handle=handle, action=action, detail=detail[:500]))

    def _owned(self, conn: Connection, env: Envelope, *, verified: bool = True) -> dict[str, Any]:
        """The caller's handle row: ``payload.handle`` must be bound to ``signer_pubkey``."""
        handle = protect.check_handle(env.payload.get("handle"))
        # FOR UPDATE: operations on one handle take turns on PostgreSQL (SQLite writers already do)
        row = conn.execute(sa.select(t_handles).where(t_handles.c.handle == handle)
                           .with_for_update()).mappings().first()
        if row is None or row["pubkey"] != env.signer:
            raise Refused("PERMISSION_DENIED", f"@{handle} is not registered to this signing key")
        if verified and row["status"] != "verified":
            raise Refused("FAILED_PRECONDITION", f"@{handle} is not verified yet; run aster verify with the mailed code")
        return dict(row)

    def _service(self, conn: Connection, handle: str, name: str, *, denied: bool = False) -> dict[str, Any]:
        row = conn.execute(sa.select(t_services).where(t_services.c.handle == handle,
                                                       t_services.c.service_name == name)).mappings().first()
        if row is None:
            if denied:
                raise Refused("PERMISSION_DENIED", f"access denied for @{handle}/{name}")
            raise Refused("NOT_FOUND", f"@{handle}/{name} is not published")
        return dict(row)

    # ------------------------------------------------------------------ ProfileService

    def check_availability(self, handle: str) -> tuple[bool, str]:
        problem = protect.handle_problem(handle)
        if problem:
            return False, "reserved" if "reserved" in problem else f"invalid: {problem}"
        now = self.now()
        row = self.tx(lambda c: c.execute(sa.select(t_handles.c.status, t_handles.c.verification_expires_at)
                                          .where(t_handles.c.handle == handle)).first(), write=False)
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
        self.rate("join_email", email_hash(email))
        code = f"{secrets.randbelow(10**6):06d}"
        code_hash = hash_code(code)

        def fn(conn: Connection, env: Envelope) -> tuple[dict[str, Any], Mail]:
            now = self.now()
            ehash = email_hash(email)
            row = conn.execute(sa.select(t_handles).where(t_handles.c.handle == handle)).mappings().first()
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
            for other in conn.execute(sa.select(t_handles).where(t_handles.c.email_hash == ehash,
                                                                 t_handles.c.handle != handle)).mappings():
                if other["status"] == "verified":
                    raise Refused("ALREADY_EXISTS", "this email is already verified for another handle")
                if other["verification_expires_at"] >= now:
                    raise Refused("ALREADY_EXISTS", "this email has a pending verification for another handle")
                conn.execute(t_handles.delete().where(t_handles.c.handle == other["handle"]))
            if row is not None:
                conn.execute(t_handles.delete().where(t_handles.c.handle == handle))
            conn.execute(t_handles.insert().values(
                handle=handle, pubkey=env.signer, email=email, email_hash=ehash, status="pending",
                announcements=announcements, created_at=now, verification_expires_at=now + VERIFY_WINDOW_S,
                version=1))
            conn.execute(t_codes.insert().values(handle=handle, code_hash=code_hash, expires_at=now + CODE_TTL_S,
                                                 attempts=0, resends=0, sent_at=now))
            self._audit(conn, handle, "join")
            return ({"handle": handle, "status": "pending_verification",
                     "verification_expires_at": now + VERIFY_WINDOW_S, "code_expires_at": now + CODE_TTL_S},
                    Mail(email, handle, code, now + CODE_TTL_S))

        return self.signed(env, "join", fn)

    def verify(self, env: Envelope) -> dict[str, Any]:
        code = protect.check_str(env.payload.get("code"), "code", protect.MAX_CODE, required=True)

        def fn(conn: Connection, env: Envelope) -> Any:
            row = self._owned(conn, env, verified=False)
            handle = row["handle"]
            if row["status"] == "verified":
                return {"handle": handle, "status": "verified"}
            now = self.now()
            if row["verification_expires_at"] < now:
                raise Refused("FAILED_PRECONDITION", "the 24 h verification window has passed; run aster join again")
            stored = conn.execute(sa.select(t_codes).where(t_codes.c.handle == handle)).mappings().first()
            if stored is None:
                raise Refused("FAILED_PRECONDITION", "no code is pending; run aster verify --resend")
            if stored["attempts"] >= CODE_ATTEMPTS:
                raise Refused("FAILED_PRECONDITION", "too many wrong codes; run aster verify --resend for a new one")
            if stored["expires_at"] < now:
                raise Refused("FAILED_PRECONDITION", "the code has expired; run aster verify --resend")
            if not code_matches(stored["code_hash"], code.strip()):
                attempts = stored["attempts"] + 1
                conn.execute(t_codes.update().where(t_codes.c.handle == handle).values(attempts=attempts))
                left = CODE_ATTEMPTS - attempts
                return Deferred(Refused("INVALID_ARGUMENT", f"invalid code ({left} attempt{'s' if left != 1 else ''} left)"))
            conn.execute(t_codes.delete().where(t_codes.c.handle == handle))
            conn.execute(t_handles.update().where(t_handles.c.handle == handle).values(
                status="verified", verified_at=now, version=t_handles.c.version + 1))
            self._audit(conn, handle, "verify")
            return {"handle": handle, "status": "verified"}

        return self.signed(env, "verify", fn)

    def resend(self, env: Envelope) -> tuple[dict[str, Any], Mail]:
        code = f"{secrets.randbelow(10**6):06d}"
        code_hash = hash_code(code)

        def fn(conn: Connection, env: Envelope) -> Any:
            row = self._owned(conn, env, verified=False)
            handle = row["handle"]
            now = self.now()
            if row["status"] == "verified":
                raise Refused("FAILED_PRECONDITION", f"@{handle} is already verified")
            if row["verification_expires_at"] < now:
                raise Refused("FAILED_PRECONDITION", "the 24 h verification window has passed; run aster join again")
            stored = conn.execute(sa.select(t_codes).where(t_codes.c.handle == handle)).mappings().first()
            resends = stored["resends"] if stored else 0
            if stored and now - stored["sent_at"] < RESEND_COOLDOWN_S:
                wait = RESEND_COOLDOWN_S - (now - stored["sent_at"])
                raise Refused("RESOURCE_EXHAUSTED", f"a code was sent less than {RESEND_COOLDOWN_S} s ago; retry in {wait} s")
            if resends >= MAX_RESENDS:
                raise Refused("RESOURCE_EXHAUSTED", f"at most {MAX_RESENDS} resends; run aster join again later")
            conn.execute(t_codes.delete().where(t_codes.c.handle == handle))
            conn.execute(t_codes.insert().values(handle=handle, code_hash=code_hash, expires_at=now + CODE_TTL_S,
                                                 attempts=0, resends=resends + 1, sent_at=now))
            return ({"handle": handle, "code_expires_at": now + CODE_TTL_S},
                    Mail(row["email"], handle, code, now + CODE_TTL_S))

        return self.signed(env, "resend_verification", fn)

    def handle_status(self, env: Envelope) -> dict[str, Any]:
        def fn(conn: Connection, env: Envelope) -> dict[str, Any]:
            row = conn.execute(sa.select(t_handles).where(t_handles.c.pubkey == env.signer)).mappings().first()
            if row is None:
                raise Refused("NOT_FOUND", "no handle is registered for this key; run aster join")
            status = row["status"]
            if status == "pending" and row["verification_expires_at"] < self.now():
                raise Refused("NOT_FOUND", "the pending handle expired; run aster join again")
            count = conn.execute(sa.select(sa.func.count()).select_from(t_services)
                                 .where(t_services.c.handle == row["handle"])).scalar_one()
            codes = conn.execute(sa.select(sa.func.count()).select_from(t_recovery).where(
                t_recovery.c.handle == row["handle"], t_recovery.c.used_at.is_(None))).scalar_one()
            return {"handle": row["handle"], "status": status, "email_masked": mask_email(row["email"]),
                    "display_name": row["display_name"], "bio": row["bio"], "url": row["url"],
                    "registered_at": iso(row["created_at"]), "services_published": count,
                    "recovery_codes_remaining": codes}

        return self.signed(env, "handle_status", fn)

    def recover(self, env: Envelope) -> dict[str, Any]:
        """Rebind a verified handle to the signing key, spending one recovery code."""
        code = protect.check_str(env.payload.get("code"), "code", 64, required=True)
        handle = protect.check_handle(env.payload.get("handle"))

        def fn(conn: Connection, env: Envelope) -> Any:
            row = conn.execute(sa.select(t_handles).where(t_handles.c.handle == handle)).mappings().first()
            hit = None
            if row is not None and row["status"] == "verified":
                hit = conn.execute(sa.select(t_recovery.c.id).where(
                    t_recovery.c.handle == handle, t_recovery.c.code_hash == _recovery_hash(code),
                    t_recovery.c.used_at.is_(None))).first()
            if hit is None:
                raise Refused("PERMISSION_DENIED", f"recovery code not valid for @{handle}")
            other = conn.execute(sa.select(t_handles.c.handle).where(t_handles.c.pubkey == env.signer,
                                                                     t_handles.c.handle != handle)).first()
            if other is not None:
                raise Refused("ALREADY_EXISTS", f"this key already owns @{other[0]}")
            now = self.now()
            conn.execute(t_recovery.update().where(t_recovery.c.id == hit[0]).values(used_at=now))
            conn.execute(t_handles.update().where(t_handles.c.handle == handle).values(
                pubkey=env.signer, version=t_handles.c.version + 1))
            self._audit(conn, handle, "recover", env.signer)
            left = conn.execute(sa.select(sa.func.count()).select_from(t_recovery).where(
                t_recovery.c.handle == handle, t_recovery.c.used_at.is_(None))).scalar_one()
            return {"handle": handle, "status": "verified", "recovery_codes_remaining": left}

        return self.signed(env, "recover", fn)

    # ------------------------------------------------------------------ PublicationService

    def _token(self, handle: str, name: str, contract_id: str, pubkey: str, token_id: str) -> str:
        body = _b64(json.dumps({"h": handle, "s": name, "c": contract_id, "k": pubkey, "t": token_id,
                                "i": int(self.clock() * 1000)}, separators=(",", ":")).encode())
        mac = _b64(hmac.new(self._token_key, body.encode(), hashlib.sha256).digest())
        return f"{body}.{mac}"

    def _open_token(self, token: str) -> dict[str, Any]:
        body, _, mac = token.partition(".")
        try:
            good = hmac.compare_digest(_unb64(mac), hmac.new(self._token_key, body.encode(), hashlib.sha256).digest())
            data = json.loads(_unb64(body)) if good else None
        except (ValueError, TypeError):
            data = None
        if not isinstance(data, dict):
            raise Refused("PERMISSION_DENIED", "producer token is not valid; publish the service again")
        return data

    def publish(self, env: Envelope) -> dict[str, Any]:
        p = env.payload
        name = protect.check_service_name(p.get("service_name"))
        manifest_json = protect.check_str(p.get("manifest_json"), "manifest_json", protect.MAX_MANIFEST, required=True)
        contract_id = p.get("contract_id")
        if not isinstance(contract_id, str) or not protect._HEX64.fullmatch(contract_id):
            raise bad("contract_id must be 64 lowercase hex characters")
        import blake3

        if blake3.blake3(manifest_json.encode("utf-8")).hexdigest() != contract_id:
            raise bad("contract_id is not the BLAKE3 hash of manifest_json")
        try:
            manifest = json.loads(manifest_json)
        except ValueError:
            raise bad("manifest_json is not JSON") from None
        if not isinstance(manifest, dict) or manifest.get("service") != name:
            raise bad("manifest_json must be a manifest whose service is service_name")
        methods = manifest.get("methods", [])
        version = manifest.get("version", 1)
        if not isinstance(methods, list) or isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise bad("manifest_json must have a methods list and a positive version")
        description = protect.check_str(p.get("description"), "description", protect.MAX_DESCRIPTION, required=True)
        status = protect.check_choice(p.get("status") or "experimental", "status", protect.STATUSES)
        delegation = protect.check_delegation(p.get("delegation"))
        endpoints = p.get("endpoints", [])
        if not isinstance(endpoints, list) or not 1 <= len(endpoints) <= 16:
            raise bad("endpoints must list 1 to 16 endpoints")
        parsed = [_endpoint(e) for e in endpoints]

        def fn(conn: Connection, env: Envelope) -> dict[str, Any]:
            row = self._owned(conn, env)
            handle = row["handle"]
            now = self.now()
            existing = conn.execute(sa.select(t_services).where(t_services.c.handle == handle,
                                                                t_services.c.service_name == name)).mappings().first()
            first = conn.execute(sa.select(sa.func.count()).select_from(t_services)
                                 .where(t_services.c.handle == handle)).scalar_one() == 0 and existing is None
            first = first and conn.execute(sa.select(sa.func.count()).select_from(t_recovery)
                                           .where(t_recovery.c.handle == handle)).scalar_one() == 0
            values = dict(contract_id=contract_id, manifest_json=manifest_json, description=description,
                          search_text=_search_text(name, description, handle),
                          status=status, delegation_json=json.dumps(delegation), method_count=len(methods),
                          version=version, updated_at=now)
            if existing is None:
                token_id = secrets.token_hex(8)
                sid = conn.execute(t_services.insert().values(
                    handle=handle, service_name=name, name_lower=name.lower(), visibility="public",
                    token_id=token_id, published_at=now, **values).returning(t_services.c.id)).scalar_one()
            else:
                token_id, sid = existing["token_id"], existing["id"]
                conn.execute(t_services.update().where(t_services.c.id == sid).values(**values))
            for node_id, relay, addrs, ttl in parsed:
                _put_endpoint(conn, sid, node_id, relay, addrs, ttl, now)
            conn.execute(t_handles.update().where(t_handles.c.handle == handle).values(last_published_at=now))
            codes: list[str] = []
            if first:
                codes = ["-".join(secrets.token_hex(2) for _ in range(4)) for _ in range(RECOVERY_CODES)]
                conn.execute(t_recovery.insert(), [{"handle": handle, "code_hash": _recovery_hash(c)} for c in codes])
            self._audit(conn, handle, "publish", f"{name} {contract_id}")
            return {"handle": handle, "service_name": name, "contract_id": contract_id,
                    "producer_token": self._token(handle, name, contract_id, env.signer, token_id),
                    "first_publish": first, "recovery_codes": codes}

        return self.signed(env, "publish", fn)

    def _owned_service(self, env: Envelope) -> Callable[[Connection], tuple[dict[str, Any], dict[str, Any]]]:
        name = protect.check_service_name(env.payload.get("service_name"))

        def get(conn: Connection) -> tuple[dict[str, Any], dict[str, Any]]:
            row = self._owned(conn, env)
            return row, self._service(conn, row["handle"], name)

        return get

    def set_visibility(self, env: Envelope) -> dict[str, Any]:
        visibility = protect.check_choice(env.payload.get("visibility"), "visibility", protect.VISIBILITIES)
        get = self._owned_service(env)

        def fn(conn: Connection, env: Envelope) -> dict[str, Any]:
            row, svc = get(conn)
            conn.execute(t_services.update().where(t_services.c.id == svc["id"]).values(
                visibility=visibility, updated_at=self.now()))
            self._audit(conn, row["handle"], "set_visibility", f"{svc['service_name']} {visibility}")
            return {"handle": row["handle"], "service_name": svc["service_name"], "visibility": visibility}

        return self.signed(env, "signed", fn)

    def update_service(self, env: Envelope) -> dict[str, Any]:
        p = env.payload
        description = protect.check_str(p.get("description"), "description", protect.MAX_DESCRIPTION, nullable=True)
        status = p.get("status")
        if status is not None:
            protect.check_choice(status, "status", protect.STATUSES)
        replacement = check = p.get("replacement")
        if check is not None:
            replacement = protect.check_replacement(check)
        if description is None and status is None and check is None:
            raise bad("give at least one of description, status, replacement")
        get = self._owned_service(env)

        def fn(conn: Connection, env: Envelope) -> dict[str, Any]:
            row, svc = get(conn)
            values: dict[str, Any] = {"updated_at": self.now()}
            if description is not None:
                values["description"] = description
                values["search_text"] = _search_text(svc["service_name"], description, row["handle"])
            if status is not None:
                values["status"] = status
            if check is not None:
                values["replacement"] = replacement
            conn.execute(t_services.update().where(t_services.c.id == svc["id"]).values(**values))
            svc.update(values)
            self._audit(conn, row["handle"], "update_service", svc["service_name"])
            return {"handle": row["handle"], "service_name": svc["service_name"], "description": svc["description"],
                    "status": svc["status"], "replacement": svc["replacement"]}

        return self.signed(env, "signed", fn)

    def unpublish(self, env: Envelope) -> dict[str, Any]:
        get = self._owned_service(env)

        def fn(conn: Connection, env: Envelope) -> dict[str, Any]:
            row, svc = get(conn)
            conn.execute(t_endpoints.delete().where(t_endpoints.c.service_id == svc["id"]))
            conn.execute(t_grants.delete().where(t_grants.c.service_id == svc["id"]))
            conn.execute(t_services.delete().where(t_services.c.id == svc["id"]))
            self._audit(conn, row["handle"], "unpublish", svc["service_name"])
            return {"handle": row["handle"], "service_name": svc["service_name"], "unpublished": True}

        return self.signed(env, "signed", fn)

    def register_endpoint(self, req: dict[str, Any], peer: str | None) -> dict[str, Any]:
        raw = req.get("producer_token")
        if not isinstance(raw, str) or not raw or len(raw) > protect.MAX_MAP:
            raise bad("producer_token is required")
        token = raw
        if raw.lstrip().startswith("{"):
            try:
                token = json.loads(raw).get("producer_token", "")
            except (ValueError, AttributeError):
                raise bad("producer_token is not valid JSON") from None
        if not isinstance(token, str):
            raise bad("producer_token must be a string")
        data = self._open_token(token)
        node_id, relay, addrs, ttl = _endpoint({"node_id": req.get("node_id"), "relay": req.get("relay", ""),
                                                "direct_addrs": req.get("direct_addrs", []),
                                                "ttl": req.get("ttl", DEFAULT_ENDPOINT_TTL)})
        self.rate("register_endpoint", node_id)

        def body(conn: Connection) -> dict[str, Any]:
            svc = conn.execute(sa.select(t_services.c.id, t_services.c.token_id, t_services.c.contract_id).where(
                t_services.c.handle == data.get("h"), t_services.c.service_name == data.get("s"))).first()
            if svc is None or svc.token_id != data.get("t"):
                raise Refused("PERMISSION_DENIED", "producer token was revoked (the service was unpublished)")
            if svc.contract_id != data.get("c"):
                raise Refused("FAILED_PRECONDITION", "the service was republished with another contract; "
                                                     "publish again for a new token")
            now = self.now()
            _put_endpoint(conn, svc.id, node_id, relay, addrs, ttl, now)
            return {"ok": True, "service_name": data.get("s"), "expires_at": now + ttl}

        return self.tx(body)

    def _entry(self, conn: Connection, svc: dict[str, Any], now: int) -> dict[str, Any]:
        live = conn.execute(sa.select(sa.func.count()).select_from(t_endpoints).where(
            t_endpoints.c.service_id == svc["id"], t_endpoints.c.expires_at >= now)).scalar_one()
        return _entry(svc, live)

    def describe_service(self, handle: str, name: str) -> dict[str, Any]:
        handle = protect.check_handle(handle)
        name = protect.check_service_name(name)

        def body(conn: Connection) -> dict[str, Any]:
            return self._entry(conn, self._service(conn, handle, name), self.now())

        return self.tx(body, write=False)

    def discover(self, query: str, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        query = protect.check_str(query, "query", protect.MAX_QUERY) or ""
        limit = protect.check_int(limit if limit else 20, "limit", 1, protect.MAX_LIMIT)
        offset = protect.check_int(offset, "offset", 0, protect.MAX_OFFSET)
        now = self.now()
        s = t_services.c
        text = query.strip()
        columns = [c for c in t_services.c if c.name not in ("manifest_json", "search_text", "token_id")]
        where: list[Any] = []
        if text.startswith("@"):
            handle, _, rest = text[1:].partition("/")
            where.append(s.handle == handle.lower())
            if rest:
                where.append(s.name_lower.contains(rest.lower(), autoescape=True))
        else:
            where.append(s.visibility == "public")

        def body(conn: Connection) -> tuple[int, list[dict[str, Any]]]:
            if text and not text.startswith("@"):
                total, rows = search.WordSearch(conn, t_services, text, self.search_backend).page(
                    columns, limit, offset)
            else:
                if not text and self.search_backend == "fts5":  # the index holds every public service
                    total = search.fts_totals(conn)[0]
                else:
                    total = conn.execute(sa.select(sa.func.count()).select_from(t_services).where(*where)).scalar_one()
                rows = [dict(r) for r in conn.execute(
                    sa.select(*columns).where(*where).order_by(s.published_at.desc(), s.id.desc())
                    .limit(limit).offset(offset)).mappings()]
            live: dict[int, int] = {}
            if rows:
                live = dict(conn.execute(
                    sa.select(t_endpoints.c.service_id, sa.func.count())
                    .where(t_endpoints.c.service_id.in_([r["id"] for r in rows]), t_endpoints.c.expires_at >= now)
                    .group_by(t_endpoints.c.service_id)).all())
            return total, [_entry(r, live.get(r["id"], 0)) for r in rows]

        return self.tx(body, write=False)

    def list_services(self, handle: str) -> tuple[str, list[dict[str, Any]]]:
        handle = protect.check_handle(handle)
        total, entries = self.discover(f"@{handle}", protect.MAX_LIMIT, 0)
        return handle, entries

    def get_manifest(self, handle: str, name: str) -> dict[str, Any]:
        handle = protect.check_handle(handle)
        name = protect.check_service_name(name)
        svc = self.tx(lambda c: self._service(c, handle, name), write=False)
        return {"handle": handle, "service_name": name, "contract_id": svc["contract_id"],
                "manifest_json": svc["manifest_json"]}

    def resolve(self, handle: str, name: str) -> tuple[dict[str, Any], list[tuple[str, str, list[str]]]]:
        handle = protect.check_handle(handle)
        name = protect.check_service_name(name)
        now = self.now()

        def body(conn: Connection) -> Any:
            svc = self._service(conn, handle, name)
            rows = conn.execute(sa.select(t_endpoints).where(t_endpoints.c.service_id == svc["id"],
                                                             t_endpoints.c.expires_at >= now)
                                .order_by(sa.case((t_endpoints.c.direct_addrs == "[]", 1), else_=0),
                                          t_endpoints.c.registered_at.desc())).mappings().all()
            return svc, [(r["node_id"], r["relay"], json.loads(r["direct_addrs"] or "[]")) for r in rows]

        return self.tx(body, write=False)

    def _handle_card(self, conn: Connection, handle_row: dict[str, Any]) -> dict[str, Any]:
        count = conn.execute(sa.select(sa.func.count()).select_from(t_services).where(
            t_services.c.handle == handle_row["handle"], t_services.c.visibility == "public")).scalar_one()
        return {"handle": handle_row["handle"], "service_count": count, "display_name": handle_row["display_name"],
                "registered_at": iso(handle_row["created_at"]),
                "last_published_at": iso(handle_row["last_published_at"]) or None}

    def describe_handle(self, handle: str) -> dict[str, Any]:
        handle = protect.check_handle(handle)

        def body(conn: Connection) -> dict[str, Any]:
            row = conn.execute(sa.select(t_handles).where(t_handles.c.handle == handle,
                                                          t_handles.c.status == "verified")).mappings().first()
            if row is None:
                raise Refused("NOT_FOUND", f"@{handle} is not a verified handle")
            return self._handle_card(conn, dict(row))

        return self.tx(body, write=False)

    def list_directory_handles(self, limit: int, offset: int) -> list[dict[str, Any]]:
        limit = min(protect.check_int(limit if limit else 20, "limit", 1, 1000), 20)
        offset = protect.check_int(offset, "offset", 0, protect.MAX_OFFSET)
        h = t_handles.c

        def body(conn: Connection) -> list[dict[str, Any]]:
            rows = conn.execute(sa.select(t_handles).where(h.status == "verified").order_by(
                sa.func.coalesce(h.last_published_at, 0).desc(), h.created_at.desc(), h.handle)
                .limit(limit).offset(offset)).mappings().all()
            return [self._handle_card(conn, dict(r)) for r in rows]

        return self.tx(body, write=False)

    # ------------------------------------------------------------------ AccessService

    def _access(self, env: Envelope) -> Callable[[Connection], tuple[dict[str, Any], dict[str, Any]]]:
        return self._owned_service(env)

    def grant_access(self, env: Envelope) -> dict[str, Any]:
        p = env.payload
        consumer = protect.check_handle(p.get("consumer_handle"), "consumer_handle")
        role = protect.check_role(p.get("role") or "consumer")
        scope = protect.check_choice(p.get("scope") or "handle", "scope", protect.SCOPES)
        node = p.get("scope_node_id")
        if scope == "node":
            if node is None:
                raise bad("scope node needs scope_node_id (the consumer's endpoint id)")
            node = protect.check_node_id(node, "scope_node_id")
        elif node is not None:
            raise bad("scope_node_id is only for scope node")
        get = self._access(env)

        def fn(conn: Connection, env: Envelope) -> dict[str, Any]:
            row, svc = get(conn)
            conn.execute(t_grants.delete().where(t_grants.c.service_id == svc["id"],
                                                 t_grants.c.consumer_handle == consumer))
            conn.execute(t_grants.insert().values(service_id=svc["id"], consumer_handle=consumer, role=role,
                                                  scope=scope, scope_node_id=node, granted_at=self.now()))
            self._audit(conn, row["handle"], "grant_access", f"{svc['service_name']} {consumer} {role}")
            return {"consumer_handle": consumer, "role": role, "scope": scope}

        return self.signed(env, "signed", fn)

    def revoke_access(self, env: Envelope) -> dict[str, Any]:
        consumer = protect.check_handle(env.payload.get("consumer_handle"), "consumer_handle")
        get = self._access(env)

        def fn(conn: Connection, env: Envelope) -> dict[str, Any]:
            row, svc = get(conn)
            gone = conn.execute(t_grants.delete().where(t_grants.c.service_id == svc["id"],
                                                        t_grants.c.consumer_handle == consumer)).rowcount
            if gone:
                self._audit(conn, row["handle"], "revoke_access", f"{svc['service_name']} {consumer}")
            return {"consumer_handle": consumer, "revoked": bool(gone)}

        return self.signed(env, "signed", fn)

    def list_access(self, env: Envelope) -> dict[str, Any]:
        get = self._access(env)

        def fn(conn: Connection, env: Envelope) -> dict[str, Any]:
            _row, svc = get(conn)
            grants = conn.execute(sa.select(t_grants).where(t_grants.c.service_id == svc["id"])
                                  .order_by(t_grants.c.consumer_handle)).mappings().all()
            return {"service_name": svc["service_name"], "grants": [_grant(dict(g)) for g in grants]}

        return self.signed(env, "signed", fn)

    def get_grant(self, env: Envelope) -> dict[str, Any]:
        """The caller's own grant on ``handle``/``service_name`` (the consumer asks), or DENIED."""
        p = env.payload
        owner = protect.check_handle(p.get("handle"))
        name = protect.check_service_name(p.get("service_name"))

        def fn(conn: Connection, env: Envelope) -> dict[str, Any]:
            me = conn.execute(sa.select(t_handles).where(t_handles.c.pubkey == env.signer,
                                                         t_handles.c.status == "verified")).mappings().first()
            denied = Refused("PERMISSION_DENIED", f"access denied for @{owner}/{name}")
            if me is None:
                raise denied
            svc = self._service(conn, owner, name, denied=True)
            grant = conn.execute(sa.select(t_grants).where(t_grants.c.service_id == svc["id"],
                                                           t_grants.c.consumer_handle == me["handle"])).mappings().first()
            if grant is None:
                delegation = json.loads(svc["delegation_json"])
                if delegation.get("mode") == "open":
                    return {"consumer_handle": me["handle"], "role": delegation["roles"][0], "scope": "handle",
                            "scope_node_id": None, "granted_at": ""}
                raise denied
            return _grant(dict(grant))

        return self.signed(env, "signed", fn)

    def get_delegation(self, env: Envelope) -> dict[str, Any]:
        get = self._access(env)
        return self.signed(env, "signed", lambda conn, env: json.loads(get(conn)[1]["delegation_json"]))

    def update_delegation(self, env: Envelope) -> dict[str, Any]:
        delegation = protect.check_delegation(env.payload.get("delegation"))
        get = self._access(env)

        def fn(conn: Connection, env: Envelope) -> dict[str, Any]:
            row, svc = get(conn)
            conn.execute(t_services.update().where(t_services.c.id == svc["id"]).values(
                delegation_json=json.dumps(delegation), updated_at=self.now()))
            self._audit(conn, row["handle"], "update_delegation", f"{svc['service_name']} {delegation['mode']}")
            return {"handle": row["handle"], "service_name": svc["service_name"], "delegation": delegation}

        return self.signed(env, "signed", fn)

    # ------------------------------------------------------------------ upkeep

    def reap(self) -> dict[str, int]:
        """Drop stale endpoints, nonces past their window, rate windows and expired codes."""
        now = self.now()

        def body(conn: Connection) -> dict[str, int]:
            return {
                "endpoints": conn.execute(t_endpoints.delete().where(t_endpoints.c.expires_at < now)).rowcount,
                "nonces": conn.execute(t_nonces.delete().where(
                    t_nonces.c.seen_at < now - protect.NONCE_WINDOW_S - protect.SKEW_S)).rowcount,
                "rate_windows": conn.execute(t_rate.delete().where(t_rate.c.window_end < now)).rowcount,
                "pending_handles": conn.execute(t_handles.delete().where(
                    t_handles.c.status == "pending", t_handles.c.verification_expires_at < now)).rowcount,
            }

        return self.tx(body)

    def counts(self) -> dict[str, int]:
        now = self.now()

        def body(conn: Connection) -> dict[str, int]:
            def n(table: sa.Table, *where: Any) -> int:
                return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()

            return {"handles": n(t_handles), "verified_handles": n(t_handles, t_handles.c.status == "verified"),
                    "pending_handles": n(t_handles, t_handles.c.status == "pending"),
                    "services": n(t_services), "public_services": n(t_services, t_services.c.visibility == "public"),
                    "endpoints": n(t_endpoints), "live_endpoints": n(t_endpoints, t_endpoints.c.expires_at >= now),
                    "grants": n(t_grants), "nonces": n(t_nonces)}

        return self.tx(body, write=False)


# ---------------------------------------------------------------------------- helpers


def _period(seconds: int) -> str:
    return f"{seconds // 3600} h" if seconds % 3600 == 0 else f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def _search_text(name: str, description: str, handle: str) -> str:
    return f"{name} {description} {handle}".lower()


def _entry(svc: dict[str, Any], live: int) -> dict[str, Any]:
    delegation = json.loads(svc["delegation_json"] or "{}")
    return {"handle": svc["handle"], "service_name": svc["service_name"], "version": svc["version"],
            "contract_id": svc["contract_id"], "description": svc["description"], "status": svc["status"],
            "method_count": svc["method_count"], "endpoint_count": int(live), "visibility": svc["visibility"],
            "delegation_mode": delegation.get("mode", "open"), "published_at": iso(svc["published_at"])}


def _grant(g: dict[str, Any]) -> dict[str, Any]:
    return {"consumer_handle": g["consumer_handle"], "role": g["role"], "scope": g["scope"],
            "scope_node_id": g["scope_node_id"], "granted_at": iso(g["granted_at"])}


def _endpoint(e: Any) -> tuple[str, str, list[str], int]:
    if not isinstance(e, dict):
        raise bad("each endpoint must be an object")
    node_id = protect.check_node_id(e.get("node_id"), "endpoint node_id")
    relay = protect.check_str(e.get("relay") or "", "endpoint relay", protect.MAX_RELAY) or ""
    addrs = e.get("direct_addrs", [])
    if not isinstance(addrs, list) or len(addrs) > 16 or not all(isinstance(a, str) and 0 < len(a) <= 64 for a in addrs):
        raise bad("endpoint direct_addrs must be at most 16 host:port strings")
    ttl = e.get("ttl", DEFAULT_ENDPOINT_TTL)
    ttl = protect.check_int(ttl, "endpoint ttl", 30, protect.MAX_TTL)
    return node_id, relay, addrs, ttl


def _put_endpoint(conn: Connection, sid: int, node_id: str, relay: str, addrs: list[str], ttl: int, now: int) -> None:
    conn.execute(t_endpoints.delete().where(t_endpoints.c.service_id == sid, t_endpoints.c.node_id == node_id))
    conn.execute(t_endpoints.insert().values(service_id=sid, node_id=node_id, relay=relay,
                                             direct_addrs=json.dumps(addrs), registered_at=now, ttl=ttl,
                                             expires_at=now + ttl))


def _dialect_insert(conn: Connection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def _insert_ignore(conn: Connection, table: sa.Table, values: dict[str, Any], keys: list[str]) -> Any:
    return _dialect_insert(conn, table).values(**values).on_conflict_do_nothing(index_elements=keys)


def _upsert_increment(conn: Connection, bucket: str, end: int) -> Any:
    stmt = _dialect_insert(conn, t_rate).values(bucket=bucket, window_end=end, count=1)
    return stmt.on_conflict_do_update(index_elements=["bucket"], set_={"count": t_rate.c.count + 1})
