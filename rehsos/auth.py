"""Bearer tokens with roles and node scope: the one auth check every HTTP API goes through;
and the short server-side sessions of people signed in to pages with such a token or with a
user name and password.

Tokens are random (256 bits) and stored as SHA-256 hashes, so a leaked database reveals no
usable token; a slow password hash buys nothing for secrets of that entropy. Session ids are
kept the same way. A token names the person who holds it (``user``) and expires.

A token row is an account: it may also carry a password (scrypt, salted), so a person signs in
to pages with their user name; the password lives and dies with its row (expiry, revocation),
and a person has at most one password per node. Passwords are what people choose, so they are
hashed slowly, and guessing is throttled per user name.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

import sqlalchemy as sa

from rehsos.clock import now
from rehsos.indonesian import long_date
from rehsos.sqltypes import UtcDateTime

# Roles (architecture.md, "Security"). Operators register; supervisors approve closures;
# analysts read aggregates at the hub; admins manage tokens and read audit logs.
OPERATOR = "operator"
SUPERVISOR = "supervisor"
FACILITY_MANAGER = "facility_manager"
TRAINER = "trainer"
ANALYST = "analyst"
ADMIN = "admin"
ROLES = (OPERATOR, SUPERVISOR, FACILITY_MANAGER, TRAINER, ANALYST, ADMIN)
NODE_ROLES = (OPERATOR, SUPERVISOR, FACILITY_MANAGER, TRAINER, ADMIN)
HUB_ROLES = (ANALYST, ADMIN)

metadata = sa.MetaData()
tokens = sa.Table(
    "api_token", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    # The person who holds the token: four eyes compare users, since one person may hold several tokens.
    sa.Column("user", sa.String(200), nullable=False, index=True),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("node", sa.String(8), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
    # "scrypt$n$r$p$salt$hash" (hex); None: this row signs in with its token only.
    sa.Column("password_hash", sa.String(200), nullable=True),
)
# A person has one password at a node: one row of theirs carries it.
sa.Index("ux_api_token_password", tokens.c.user, tokens.c.node, unique=True,
         sqlite_where=tokens.c.password_hash.isnot(None), postgresql_where=tokens.c.password_hash.isnot(None))

# Failed password sign-ins per user name, for throttling: a row lives while its window or lock does.
sign_in_throttle = sa.Table(
    "sign_in_throttle", metadata,
    sa.Column("user", sa.String(64), primary_key=True),
    sa.Column("node", sa.String(8), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("window_start", UtcDateTime, nullable=False),
    sa.Column("locked_until", UtcDateTime, nullable=True),
)


access_denials = sa.Table(
    "access_denial", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime, nullable=False, index=True),
    sa.Column("token_id", sa.Integer, nullable=True),
    sa.Column("token_node", sa.String(8), nullable=True),
    sa.Column("role", sa.String(32), nullable=True),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("path", sa.String(500), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    # 1 for a recorded attempt; on a row summing up a source's attempts over its limit, how many.
    sa.Column("count", sa.Integer, nullable=False, server_default="1"),
)

web_sessions = sa.Table(
    "web_session", metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("token_id", sa.Integer, sa.ForeignKey("api_token.id"), nullable=False, index=True),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_seen_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
)

DEFAULT_TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 365
# Refused attempts recorded one by one per token, and for all callers without a valid token
# together, per minute; the rest are only counted (a flood cannot fill the audit database).
DENIALS_PER_MINUTE = 20
_USER = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")

# scrypt at 16 MiB and some 50 ms a check: slow for a guesser with a stolen database, still quick
# for a person signing in on a small office server.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024
MIN_PASSWORD = 10
MAX_PASSWORD = 200
# After MAX_FAILURES wrong passwords for a user name within THROTTLE_WINDOW, that name is refused
# for THROTTLE_LOCK without its password being checked.
MAX_FAILURES = 5
THROTTLE_WINDOW = timedelta(minutes=15)
THROTTLE_LOCK = timedelta(minutes=15)
# One answer for every failure: a guesser learns neither whether the user exists nor why.
WRONG_PASSWORD = "Nama pengguna atau kata sandi salah."
THROTTLED = f"{WRONG_PASSWORD} Terlalu banyak percobaan yang gagal; coba lagi nanti."


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id, holder name, role, the node it is scoped to, and the
    user (person) holding it; a principal acting for the system itself has no user."""
    token_id: int
    name: str
    role: str
    node: str
    user: str = ""

    @property
    def actor(self) -> str:
        return f"token:{self.token_id}:{self.user or self.name}"


def user_of(actor: str) -> str:
    """The user an :attr:`Principal.actor` names (``token:<id>:<user>``)."""
    return actor.split(":", 2)[2] if actor.startswith("token:") and actor.count(":") >= 2 else actor


@dataclass(frozen=True)
class TokenRecord:
    principal: Principal
    expires_at: datetime
    revoked_at: datetime | None


class AuthError(Exception):
    status = 401


class Unauthenticated(AuthError):
    status = 401


class Forbidden(AuthError):
    status = 403

    def __init__(self, message: str, *, principal: "Principal | None" = None, token_node: str | None = None):
        super().__init__(message)
        self.principal = principal
        self.token_node = token_node


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class PasswordRejected(ValueError):
    """A password the rules refuse; the message is for the person choosing it (Indonesian)."""


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """``scrypt$n$r$p$salt$hash``: the parameters travel with the hash, so they can grow later
    without making old passwords unreadable."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM, dklen=32)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = bytes.fromhex(digest)
        given = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                               maxmem=_SCRYPT_MAXMEM, dklen=len(expected))
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(given, expected)


_dummy_hash: str | None = None


def _no_account_check(password: str) -> None:
    """As slow as checking a real password, so the answer's time does not tell whether a user exists."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password(secrets.token_urlsafe(16))
    check_password(password, _dummy_hash)


def password_problem(password: str, user: str) -> str | None:
    """What is wrong with ``password`` as ``user``'s, in Indonesian; None when it may be used."""
    if len(password) < MIN_PASSWORD:
        return f"Kata sandi minimal {MIN_PASSWORD} karakter."
    if len(password) > MAX_PASSWORD:
        return f"Kata sandi paling banyak {MAX_PASSWORD} karakter."
    if password.isdigit():
        return "Kata sandi tidak boleh hanya berisi angka."
    if password.strip().casefold() == user.casefold():
        return "Kata sandi tidak boleh sama dengan nama pengguna."
    return None


class TokenStore:
    def __init__(self, engine: sa.Engine, *, clock: Callable[[], datetime] = now):
        self.engine = engine
        self.clock = clock  # for the password checks and their throttle (tests move it on)

    def issue(self, *, user: str, role: str, node: str, name: str | None = None,
              days: int = DEFAULT_TOKEN_DAYS) -> str:
        """Create a token for ``user`` (a person: ``siti.aminah``, a NIP) valid ``days`` days, and
        return it; only its hash is kept.

        The token names its node (``rk_6371_...``) so another node can tell a colleague's token
        from a forged one and answer 403, not 401; the random part is what authenticates.
        """
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
        if not _USER.fullmatch(user):
            raise ValueError(f"user {user!r}: lower-case letters, digits and . _ @ - (at most 64), "
                             "one per person")
        if not 1 <= days <= MAX_TOKEN_DAYS:
            raise ValueError(f"days must be between 1 and {MAX_TOKEN_DAYS}")
        token = f"rk_{node}_{secrets.token_urlsafe(32)}"
        issued = now()
        with self.engine.begin() as conn:
            conn.execute(sa.insert(tokens).values(
                token_hash=hash_token(token), name=name or user, user=user, role=role, node=node,
                created_at=issued, expires_at=issued + timedelta(days=days)))
        return token

    def revoke(self, token_id: int) -> bool:
        """Revoke a token; its password and page sessions end with it."""
        with self.engine.begin() as conn:
            result = conn.execute(sa.update(tokens).where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
                                  .values(revoked_at=now(), password_hash=None))
            conn.execute(sa.delete(web_sessions).where(web_sessions.c.token_id == token_id))
        return result.rowcount == 1

    def list(self) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(tokens.c.id, tokens.c.user, tokens.c.name, tokens.c.role, tokens.c.node,
                                          tokens.c.created_at, tokens.c.expires_at, tokens.c.revoked_at,
                                          tokens.c.password_hash.isnot(None).label("password"))
                                .order_by(tokens.c.id))
            return [dict(r._mapping) for r in rows]

    def set_password(self, token_id: int, password: str) -> None:
        """Give the account (an active token row) this password, or a new one; the person's password
        on another of their rows at this node goes (one password per person and node), and so do the
        page sessions of every row whose password changed: a reset shuts out whoever knew the old one.

        Raises :class:`PasswordRejected` (Indonesian) for a password the rules refuse, and for a row
        that is not an active account.
        """
        at = self.clock()
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(tokens).where(tokens.c.id == token_id)).first()
            if row is None or row.revoked_at is not None or row.expires_at <= at:
                raise PasswordRejected(f"Tidak ada akun aktif dengan id {token_id}.")
            problem = password_problem(password, row.user)
            if problem:
                raise PasswordRejected(problem)
            had_password = conn.execute(sa.select(tokens.c.id).where(
                tokens.c.user == row.user, tokens.c.node == row.node, tokens.c.password_hash.isnot(None))).scalars().all()
            conn.execute(sa.update(tokens).where(tokens.c.id.in_(had_password)).values(password_hash=None))
            conn.execute(sa.update(tokens).where(tokens.c.id == token_id).values(password_hash=hash_password(password)))
            conn.execute(sa.delete(web_sessions).where(web_sessions.c.token_id.in_(had_password)))

    def authenticate_password(self, user: str, password: str, node: str, *, path: str = "/masuk") -> Principal:
        """The principal of ``user``'s account at ``node`` if ``password`` is theirs and the account
        is active; otherwise :class:`Unauthenticated` with one message whatever went wrong.

        After :data:`MAX_FAILURES` failures within :data:`THROTTLE_WINDOW` the user name is refused
        for :data:`THROTTLE_LOCK` without a check. Every refusal goes to the access-denial log with
        the user name (when it names an account here: a password typed into the name field is not
        kept), never the password.
        """
        user = user.strip().lower()
        at = self.clock()
        if not _USER.fullmatch(user) or not password or len(password) > MAX_PASSWORD:
            _no_account_check(password[:MAX_PASSWORD])
            self._deny(None, user, path, "nama pengguna tidak dikenal")
            raise Unauthenticated(WRONG_PASSWORD)
        with self.engine.connect() as conn:
            locked_until = conn.execute(sa.select(sign_in_throttle.c.locked_until).where(
                sign_in_throttle.c.user == user, sign_in_throttle.c.node == node)).scalar_one_or_none()
            row = conn.execute(sa.select(tokens).where(tokens.c.user == user, tokens.c.node == node,
                                                       tokens.c.password_hash.isnot(None))).first()
        account = _principal(row) if row is not None else None
        if locked_until is not None and locked_until > at:
            self._deny(account, user, path, "ditahan sementara setelah terlalu banyak kegagalan")
            raise Unauthenticated(THROTTLED)
        if row is None:
            _no_account_check(password)
            matches = False
        else:
            matches = check_password(password, row.password_hash)
        if matches and row.revoked_at is None and row.expires_at > at:
            with self.engine.begin() as conn:
                conn.execute(sa.delete(sign_in_throttle).where(sign_in_throttle.c.user == user,
                                                               sign_in_throttle.c.node == node))
            return account
        self._count_failure(user, node, at)
        reason = ("kata sandi salah" if not matches else "akun sudah dicabut atau kedaluwarsa")
        self._deny(account, user, path, reason)
        raise Unauthenticated(WRONG_PASSWORD)

    def _count_failure(self, user: str, node: str, at: datetime) -> None:
        """One more failure for ``user``; the one that reaches :data:`MAX_FAILURES` in the window
        starts the lock. Rows of windows and locks that are over are dropped on the way."""
        key = (sign_in_throttle.c.user == user, sign_in_throttle.c.node == node)
        for _ in range(2):  # a failure for the same name inserted at the same moment: count on top of it
            try:
                with self.engine.begin() as conn:
                    conn.execute(sa.delete(sign_in_throttle).where(
                        sign_in_throttle.c.window_start <= at - THROTTLE_WINDOW,
                        sa.or_(sign_in_throttle.c.locked_until.is_(None), sign_in_throttle.c.locked_until <= at)))
                    row = conn.execute(sa.select(sign_in_throttle).where(*key).with_for_update()).first()
                    if row is None or row.window_start <= at - THROTTLE_WINDOW:
                        failures, window_start = 1, at
                    else:
                        failures, window_start = row.failures + 1, row.window_start
                    values = dict(failures=failures, window_start=window_start,
                                  locked_until=at + THROTTLE_LOCK if failures >= MAX_FAILURES else None)
                    if row is None:
                        conn.execute(sa.insert(sign_in_throttle).values(user=user, node=node, **values))
                    else:
                        conn.execute(sa.update(sign_in_throttle).where(*key).values(**values))
                return
            except sa.exc.IntegrityError:
                continue

    def _deny(self, account: "Principal | None", user: str, path: str, why: str) -> None:
        named = f"pengguna {user}" if account is not None else "pengguna tidak dikenal"
        self.log_denial(principal=account, token_node=None, method="POST", path=path,
                        reason=f"Masuk dengan kata sandi ditolak ({named}): {why}.")

    def log_denial(self, *, principal: "Principal | None", token_node: str | None, method: str, path: str,
                   reason: str) -> None:
        """Refused attempts go to the node's audit trail (UU 27/2022: who tried what, when).

        At most :data:`DENIALS_PER_MINUTE` per token, and as many for every caller without a
        valid token together, are recorded one by one; the rest of the minute only add to the
        count of one summary row, so nobody can grow the table faster than that.
        """
        at = now()
        minute = at.replace(second=0, microsecond=0)
        token_id = principal.token_id if principal else None
        source = access_denials.c.token_id == token_id if token_id else access_denials.c.token_id.is_(None)
        with self.engine.begin() as conn:
            recorded = conn.execute(sa.select(sa.func.count()).select_from(access_denials).where(
                source, access_denials.c.at >= minute, access_denials.c.method != "*")).scalar_one()
            if recorded < DENIALS_PER_MINUTE:
                conn.execute(sa.insert(access_denials).values(
                    at=at, token_id=token_id, token_node=principal.node if principal else token_node,
                    role=principal.role if principal else None, method=method, path=path[:500],
                    reason=reason[:500]))
                return
            summed = conn.execute(sa.update(access_denials).where(
                source, access_denials.c.at == minute, access_denials.c.method == "*")
                .values(count=access_denials.c.count + 1))
            if summed.rowcount == 0:
                conn.execute(sa.insert(access_denials).values(
                    at=minute, token_id=token_id, token_node=principal.node if principal else None,
                    role=principal.role if principal else None, method="*", path="*", count=1,
                    reason=f"Lebih dari {DENIALS_PER_MINUTE} penolakan dari sumber ini dalam satu menit; "
                           "sisanya hanya dihitung."))

    def denials(self, limit: int = 100) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(access_denials).order_by(access_denials.c.id.desc()).limit(limit))
            return [{**r._mapping, "at": r.at.isoformat()} for r in rows]

    def find(self, token: str) -> TokenRecord | None:
        """The token's record, revoked or expired as it may be; None for an unknown token."""
        digest = hash_token(token)
        with self.engine.connect() as conn:
            row = conn.execute(_FIND_TOKEN, {"digest": digest}).first()
        # The hash lookup is an index probe; compare again in constant time for good measure.
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            return None
        return TokenRecord(_principal(row), row.expires_at, row.revoked_at)

    def lookup(self, token: str) -> Principal | None:
        """The principal of a token that is neither revoked nor expired."""
        record = self.find(token)
        if record is None or record.revoked_at is not None or record.expires_at <= now():
            return None
        return record.principal


# Built once: every API request looks its token up.
_FIND_TOKEN = sa.select(tokens).where(tokens.c.token_hash == sa.bindparam("digest"))


def _principal(row) -> Principal:
    return Principal(token_id=row.id, name=row.name, role=row.role, node=row.node, user=row.user)


@dataclass(frozen=True)
class WebSession:
    """A person signed in to pages: who, and the token their forms must carry (CSRF)."""
    principal: Principal
    csrf: str


class SessionStore:
    """Short server-side sessions of people signed in to pages with a token.

    The browser holds only a random session id (kept here as a hash); a session ends after
    ``idle`` without a request, ``absolute`` after sign-in, at sign-out, and when its token is
    revoked or expires.
    """

    def __init__(self, engine: sa.Engine, *, idle: timedelta, absolute: timedelta):
        self.engine = engine
        self.idle = idle
        self.absolute = absolute

    def open(self, principal: Principal) -> str:
        """Start a session for ``principal`` (a checked token); returns the session id for the cookie."""
        session_id, started = secrets.token_urlsafe(32), now()
        with self.engine.begin() as conn:
            token_expires = conn.execute(sa.select(tokens.c.expires_at)
                                         .where(tokens.c.id == principal.token_id)).scalar_one()
            conn.execute(sa.delete(web_sessions).where(sa.or_(web_sessions.c.expires_at <= started,
                                                              web_sessions.c.last_seen_at <= started - self.idle)))
            conn.execute(sa.insert(web_sessions).values(
                id_hash=hash_token(session_id), token_id=principal.token_id, csrf=secrets.token_urlsafe(32),
                created_at=started, last_seen_at=started,
                expires_at=min(started + self.absolute, token_expires)))
        return session_id

    def find(self, session_id: str) -> WebSession | None:
        """The live session with this id, its last use moved to now; None if it has ended."""
        at = now()
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(web_sessions.c.csrf, web_sessions.c.last_seen_at, tokens)
                .join(tokens, tokens.c.id == web_sessions.c.token_id)
                .where(web_sessions.c.id_hash == hash_token(session_id), web_sessions.c.expires_at > at,
                       web_sessions.c.last_seen_at > at - self.idle, tokens.c.revoked_at.is_(None),
                       tokens.c.expires_at > at)).first()
            if row is None:
                return None
            if at - row.last_seen_at > timedelta(seconds=30):  # a write per page view is not needed
                conn.execute(sa.update(web_sessions).where(web_sessions.c.id_hash == hash_token(session_id))
                             .values(last_seen_at=at))
        return WebSession(_principal(row), row.csrf)

    def close(self, session_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.delete(web_sessions).where(web_sessions.c.id_hash == hash_token(session_id)))


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def token_node(token: str) -> str | None:
    """The node a token names (``rk_6371_...``); a claim only, until the token is looked up."""
    parts = token.split("_", 2)
    return parts[1] if len(parts) == 3 and parts[0] == "rk" and (parts[1].isdigit() or parts[1] == "hub") else None


def authorize(store: TokenStore, authorization: str | None, *, node: str, roles: tuple[str, ...]) -> Principal:
    """The one auth check: a valid token, scoped to this node, with one of ``roles``.

    A token of another office is refused with 403 (it is known to be someone else's scope);
    an unknown, revoked or expired one with 401.
    """
    token = bearer_token(authorization)
    if token is None:
        raise Unauthenticated("Token akses diperlukan (header Authorization: Bearer <token>).")
    record = store.find(token)
    if record is None:
        claimed = token_node(token)
        if claimed and claimed != node:
            raise Forbidden(f"Token node {claimed} tidak berlaku di node {node}.", token_node=claimed)
        raise Unauthenticated("Token akses tidak valid.")
    if record.revoked_at is not None:
        raise Unauthenticated("Token akses sudah dicabut; minta token baru kepada admin.")
    if record.expires_at <= now():
        raise Unauthenticated(f"Token akses sudah kedaluwarsa sejak {long_date(record.expires_at.date())} "
                              f"pukul {record.expires_at:%H.%M} UTC; minta token baru kepada admin.")
    return check_scope(record.principal, node=node, roles=roles)


def check_scope(principal: Principal, *, node: str, roles: tuple[str, ...]) -> Principal:
    """The principal's token is for this node and one of ``roles``; 403 otherwise."""
    if principal.node != node:
        raise Forbidden(f"Token ini berlaku untuk node {principal.node}, bukan node {node}.", principal=principal)
    if principal.role not in roles:
        raise Forbidden(f"Peran '{principal.role}' tidak berwenang untuk tindakan ini.", principal=principal)
    return principal
