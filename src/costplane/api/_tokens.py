"""API tokens: random secrets shown once, stored only as SHA-256, with a role and an optional team scope.

Roles are ordered: a viewer reads, an operator also changes budgets and plans and actuates, an admin
also manages tokens. A token with a team sees only that team's costs, budgets, plans and decisions;
a token without one sees every team.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import func, select

from costplane.api import _audit
from costplane.api._errors import Conflict, Forbidden, NotFound
from costplane.core.errors import InputError
from costplane.store import ApiToken, Store

ROLES: tuple[str, ...] = ("viewer", "operator", "admin")  # each includes the rights of those before it
TOKEN_PREFIX = "cp_"
TOKEN_CACHE_TTL_S = 10.0  # how long an authenticated token is trusted without a lookup
TOKEN_BYTES = 32  # 256 bits of randomness: guessing is out of reach, so a plain SHA-256 suffices (no KDF)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's name, role and team scope (None = all teams)."""

    token_id: int
    name: str
    role: str
    team: str | None

    def has_role(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    def can_see_team(self, team: str | None) -> bool:
        return self.team is None or team == self.team


@dataclass(frozen=True)
class IssuedToken:
    """A new token: `secret` exists only here; the store keeps its hash."""

    id: int
    name: str
    role: str
    team: str | None
    secret: str


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InputError(f"role {role!r} is not one of {', '.join(ROLES)}", fix="use viewer, operator or admin")


def check_may_issue(issuer: Principal, role: str, team: str | None) -> None:
    """A team-scoped issuer may issue tokens only of its own team and at most its own role."""
    _check_role(role)
    if ROLES.index(role) > ROLES.index(issuer.role):
        raise Forbidden(f"token {issuer.name!r} is a {issuer.role}; it cannot issue a {role} token",
                        fix=f"issue a token of role {issuer.role} or lower")
    if issuer.team is not None and team != issuer.team:
        raise Forbidden(f"token {issuer.name!r} is scoped to team {issuer.team!r}; it may issue tokens only "
                        f"of that team (asked: {team or 'every team'})", fix=f"pass team={issuer.team}")


def create_token(store: Store, name: str, role: str, team: str | None, now_s: float, actor: str = "cli",
                 issuer: Principal | None = None) -> IssuedToken:
    """Issue a token and audit it; a name already used (even revoked) is a Conflict.

    `issuer`: the API caller, whose team and role bound what it may issue (None: the CLI, which has the database).
    """
    _check_role(role)
    if issuer is not None:
        check_may_issue(issuer, role, team or None)
    name = name.strip()
    if not name:
        raise InputError("a token needs a name", fix="pass --name, e.g. --name ci-dashboard")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    with store.session() as s:
        if s.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
            raise Conflict(f"a token named {name!r} already exists", fix="choose another name or revoke the old one")
        row = ApiToken(name=name, token_sha256=hash_secret(secret), role=role, team=team or None,
                       created_at_s=now_s, revoked=False)
        s.add(row)
        s.flush()
        _audit.record(s, now_s, actor, "token.create", f"token:{name}", {"role": role, "team": team}, team=team or None)
        return IssuedToken(int(row.id), name, role, team or None, secret)


def authenticate(store: Store, secret: str) -> Principal | None:
    """The principal of a live token, or None. Compares hashes in constant time after the indexed lookup."""
    digest = hash_secret(secret)
    with store.session() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.token_sha256 == digest))
        if row is None or row.revoked or not hmac.compare_digest(row.token_sha256, digest):
            return None
        return Principal(int(row.id), row.name, row.role, row.team)


class TokenCache:
    """Recently authenticated tokens, by hash, for `ttl_s` seconds (monotonic time; never decision code).

    A database lookup per request caps a small server at ~150 requests/s; with this cache a token is
    looked up once per `ttl_s`. Revoking through this process's API drops the entry at once; a
    revocation by another process (`costplane token revoke`) takes effect within `ttl_s`.
    """

    def __init__(self, ttl_s: float = TOKEN_CACHE_TTL_S, max_entries: int = 10_000) -> None:
        self.ttl_s, self.max_entries = ttl_s, max_entries
        self._entries: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def authenticate(self, store: Store, secret: str) -> Principal | None:
        digest = hash_secret(secret)
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(digest)
        if hit is not None and hit[1] > now:
            return hit[0]
        principal = authenticate(store, secret)
        if principal is not None:  # unknown tokens are never cached: each attempt costs a lookup
            with self._lock:
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
                self._entries[digest] = (principal, now + self.ttl_s)
        return principal

    def forget(self, token_id: int) -> None:
        with self._lock:
            for digest in [d for d, (p, _) in self._entries.items() if p.token_id == token_id]:
                del self._entries[digest]


def list_tokens(store: Store, limit: int, offset: int, team: str | None = None) -> tuple[list[ApiToken], int]:
    """Tokens by id; `team` given: only that team's tokens (what a team-scoped admin may see)."""
    query = select(ApiToken)
    if team is not None:
        query = query.where(ApiToken.team == team)
    with store.session() as s:
        count = int(s.scalar(select(func.count()).select_from(query.subquery())) or 0)
        rows = s.scalars(query.order_by(ApiToken.id).limit(limit).offset(offset)).all()
    return list(rows), count


def revoke_token(store: Store, token_id: int, now_s: float, actor: str, team: str | None = None) -> ApiToken:
    """Revoke; with `team`, a token of another team is not found (404, its existence not revealed)."""
    with store.session() as s:
        row = s.get(ApiToken, token_id)
        if row is None or (team is not None and row.team != team):
            raise NotFound(f"no token with id {token_id}", fix="list tokens with GET /api/v1/tokens")
        row.revoked = True
        _audit.record(s, now_s, actor, "token.revoke", f"token:{row.name}", {"id": token_id}, team=row.team)
        s.flush()
        return row


def has_live_admin(store: Store) -> bool:
    with store.session() as s:
        return s.scalar(select(ApiToken.id).where(ApiToken.role == "admin", ApiToken.revoked.is_(False))) is not None


def ensure_admin_token(store: Store, now_s: float) -> IssuedToken | None:
    """On a fresh store, issue the first admin token (returned once); None when an admin token exists."""
    if has_live_admin(store):
        return None
    with store.session() as s:
        taken = set(s.scalars(select(ApiToken.name)).all())
    name = next(n for n in ("admin", *(f"admin-{i}" for i in range(2, 10_000))) if n not in taken)
    return create_token(store, name, "admin", None, now_s, actor="serve-bootstrap")
