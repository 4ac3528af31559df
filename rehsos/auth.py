"""Bearer tokens with roles and node scope: the one auth check every HTTP API goes through.

Tokens are random (256 bits) and stored as SHA-256 hashes, so a leaked database reveals no
usable token; a slow password hash buys nothing for secrets of that entropy.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from rehsos.clock import now
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
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("node", sa.String(8), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
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
)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id, holder name, role and the node it is scoped to."""
    token_id: int
    name: str
    role: str
    node: str

    @property
    def actor(self) -> str:
        return f"token:{self.token_id}:{self.name}"


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


class TokenStore:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def issue(self, *, name: str, role: str, node: str) -> str:
        """Create a token and return it; only its hash is kept.

        The token names its node (``rk_6371_...``) so another node can tell a colleague's token
        from a forged one and answer 403, not 401; the random part is what authenticates.
        """
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
        token = f"rk_{node}_{secrets.token_urlsafe(32)}"
        with self.engine.begin() as conn:
            conn.execute(sa.insert(tokens).values(
                token_hash=hash_token(token), name=name, role=role, node=node,
                created_at=now()))
        return token

    def revoke(self, token_id: int) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(sa.update(tokens).where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
                                  .values(revoked_at=now()))
        return result.rowcount == 1

    def list(self) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(tokens.c.id, tokens.c.name, tokens.c.role, tokens.c.node,
                                          tokens.c.created_at, tokens.c.revoked_at).order_by(tokens.c.id))
            return [dict(r._mapping) for r in rows]

    def log_denial(self, *, principal: "Principal | None", token_node: str | None, method: str, path: str,
                   reason: str) -> None:
        """Refused attempts go to the node's audit trail (UU 27/2022: who tried what, when)."""
        with self.engine.begin() as conn:
            conn.execute(sa.insert(access_denials).values(
                at=now(), token_id=principal.token_id if principal else None,
                token_node=principal.node if principal else token_node, role=principal.role if principal else None,
                method=method, path=path[:500], reason=reason[:500]))

    def denials(self, limit: int = 100) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(access_denials).order_by(access_denials.c.id.desc()).limit(limit))
            return [{**r._mapping, "at": r.at.isoformat()} for r in rows]

    def lookup(self, token: str) -> Principal | None:
        digest = hash_token(token)
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(tokens).where(tokens.c.token_hash == digest,
                                                       tokens.c.revoked_at.is_(None))).first()
        # The hash lookup is an index probe; compare again in constant time for good measure.
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            return None
        return Principal(token_id=row.id, name=row.name, role=row.role, node=row.node)


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
    an unknown one with 401.
    """
    token = bearer_token(authorization)
    if token is None:
        raise Unauthenticated("Token akses diperlukan (header Authorization: Bearer <token>).")
    principal = store.lookup(token)
    if principal is None:
        claimed = token_node(token)
        if claimed and claimed != node:
            raise Forbidden(f"Token node {claimed} tidak berlaku di node {node}.", token_node=claimed)
        raise Unauthenticated("Token akses tidak valid atau sudah dicabut.")
    if principal.node != node:
        raise Forbidden(f"Token ini berlaku untuk node {principal.node}, bukan node {node}.", principal=principal)
    if principal.role not in roles:
        raise Forbidden(f"Peran '{principal.role}' tidak berwenang untuk tindakan ini.", principal=principal)
    return principal
