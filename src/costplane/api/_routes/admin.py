"""Tokens (admin) and the audit log (admin), plus `whoami` for any token.

A team-scoped admin stays in its team: it lists, issues and revokes only its team's tokens (at most
its own role), and reads only its team's audit rows; another team's token id is a 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from costplane.api import _audit, _tokens
from costplane.api._deps import Admin, ClockDep, PageDep, StoreDep, Viewer
from costplane.api._errors import error_responses
from costplane.api._schemas import AuditPublic, TokenCreate, TokenIssuedPublic, TokenPublic, TokensPublic, WhoAmIPublic

system_router = APIRouter(tags=["system"], responses=error_responses(401))
router = APIRouter(tags=["tokens"], responses=error_responses(400, 401, 403, 422))


@system_router.get("/whoami", response_model=WhoAmIPublic)
def whoami(principal: Viewer) -> dict:
    """The calling token's name, role and team scope."""
    return {"name": principal.name, "role": principal.role, "team": principal.team}


@router.get("/tokens", response_model=TokensPublic)
def list_tokens(principal: Admin, store: StoreDep, page: PageDep) -> dict:
    """Tokens (never secrets); a team-scoped admin sees its team's only."""
    rows, count = _tokens.list_tokens(store, page.limit, page.offset, principal.team)
    return {"data": rows, "count": count, "limit": page.limit, "offset": page.offset}


@router.post("/tokens", response_model=TokenIssuedPublic, status_code=201, responses=error_responses(409))
def create_token(principal: Admin, store: StoreDep, clock: ClockDep, body: TokenCreate) -> dict:
    """Issue a token; its secret is in this response only. A team-scoped admin issues only its team's tokens."""
    issued = _tokens.create_token(store, body.name, body.role, body.team, clock.now_s(), actor=principal.name,
                                  issuer=principal)
    return {"id": issued.id, "name": issued.name, "role": issued.role, "team": issued.team, "token": issued.secret}


@router.delete("/tokens/{token_id}", response_model=TokenPublic, responses=error_responses(404))
def revoke_token(token_id: Annotated[int, Path(ge=1, le=2**31 - 1)], principal: Admin, store: StoreDep,
                 clock: ClockDep, request: Request) -> object:
    """Revoke a token: it stops working at once in this process (within 10 s in others)."""
    row = _tokens.revoke_token(store, token_id, clock.now_s(), principal.name, principal.team)
    request.app.state.token_cache.forget(token_id)
    return row


audit_router = APIRouter(tags=["audit"], responses=error_responses(400, 401, 403, 422))


@audit_router.get("/audit", response_model=AuditPublic)
def list_audit(principal: Admin, store: StoreDep, page: PageDep,
               action: Annotated[str | None, Query(max_length=64)] = None) -> dict:
    """Newest first; a team-scoped admin reads only its team's rows."""
    rows, count = _audit.list_audit(store, page.limit, page.offset, action, principal.team)
    return {"data": rows, "count": count, "limit": page.limit, "offset": page.offset}
