"""`Annotated` dependencies: the store, clock and catalog of this app, the caller, and the team scope.

`Viewer`, `Operator` and `Admin` authenticate the bearer token and check the role; `TeamScope`
turns an optional `?team=` into the team the caller may see (403 when it names another team).
They are `async def`: FastAPI runs sync dependencies each in a worker thread, and these do no I/O
but the token lookup, which the token cache makes one indexed query per token per 10 s.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from costplane.api._errors import Forbidden, TooManyRequests, Unauthorized
from costplane.api._settings import DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, Settings
from costplane.api._tokens import Principal
from costplane.core.clock import Clock
from costplane.core.types import Catalog
from costplane.store import Store

bearer = HTTPBearer(auto_error=False, description="An API token: `costplane token create --name N --role viewer`")


async def get_store(request: Request) -> Store:
    return request.app.state.store


async def get_clock(request: Request) -> Clock:
    return request.app.state.clock


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


_catalog_lock = threading.Lock()


@lru_cache(maxsize=8)
def pricing_inputs(settings: Settings) -> tuple[Catalog, Mapping[str, Mapping[str, str]] | None]:
    """(catalog with the settings' discounts, the mapping file's `nodes:`): what `costplane cost --catalog
    --discounts --mapping` prices with. Read once per settings; `create_app` calls it so a bad file fails at start."""
    from costplane.catalog import load_catalog

    nodes = None
    if settings.mapping_path is not None:
        from costplane.ingest._mapping import node_mapping_from_dict, read_mapping_file

        nodes = node_mapping_from_dict(read_mapping_file(settings.mapping_path), str(settings.mapping_path))
    return load_catalog(settings.catalog_path, settings.discounts_path), nodes


def get_catalog(request: Request) -> Catalog:
    """Loaded once per app on first use (the bundled snapshot parses in well under a second)."""
    state = request.app.state
    if getattr(state, "catalog", None) is None:
        with _catalog_lock:
            if getattr(state, "catalog", None) is None:
                state.catalog = pricing_inputs(state.settings)[0]
    return state.catalog


def get_nodes(request: Request) -> Mapping[str, Mapping[str, str]] | None:
    """The mapping file's `nodes:` (Settings.mapping_path), or None."""
    return pricing_inputs(request.app.state.settings)[1]


StoreDep = Annotated[Store, Depends(get_store)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]
NodesDep = Annotated[Mapping[str, Mapping[str, str]] | None, Depends(get_nodes)]


async def current_principal(store: StoreDep, request: Request,
                      creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
    if creds is None or not creds.credentials:
        raise Unauthorized("this route needs an API token", fix="send `Authorization: Bearer TOKEN`; "
                           "create one with `costplane token create --name N --role viewer`")
    principal = request.app.state.token_cache.authenticate(store, creds.credentials)
    if principal is None:
        raise Unauthorized("the API token is unknown or revoked",
                           fix="create a new one with `costplane token create`")
    wait_s = request.app.state.rate_limiter.allow(principal.token_id)
    if wait_s is not None:
        raise TooManyRequests(f"token {principal.name!r} sent more than its rate limit",
                              fix=f"retry after {wait_s:.2f} s", headers={"Retry-After": str(max(1, round(wait_s)))})
    return principal


def _require(role: str):
    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.has_role(role):
            raise Forbidden(f"token {principal.name!r} is a {principal.role}; this route needs {role}",
                            fix=f"use a token with role {role} or higher")
        return principal

    check.__name__ = f"require_{role}"
    return check


Viewer = Annotated[Principal, Depends(_require("viewer"))]
Operator = Annotated[Principal, Depends(_require("operator"))]
Admin = Annotated[Principal, Depends(_require("admin"))]


async def team_scope(principal: Viewer,
               team: Annotated[str | None, Query(max_length=128, description="Only this team (default: all you may see).")] = None,
               ) -> str | None:
    """The team the caller asks for and may see; None means every team (tokens without a team only)."""
    if principal.team is None:
        return team or None
    if team and team != principal.team:
        raise Forbidden(f"token {principal.name!r} is scoped to team {principal.team!r}, not {team!r}",
                        fix=f"ask for team={principal.team} or use a token of team {team}")
    return principal.team


TeamScope = Annotated[str | None, Depends(team_scope)]


class Page:
    """`limit`/`offset` query parameters of every list route."""

    def __init__(self,
                 limit: Annotated[int, Query(ge=1, le=MAX_PAGE_LIMIT, description="Rows per page.")] = DEFAULT_PAGE_LIMIT,
                 offset: Annotated[int, Query(ge=0, le=2**31 - 1, description="Rows to skip.")] = 0) -> None:
        self.limit = limit
        self.offset = offset


PageDep = Annotated[Page, Depends(Page)]
