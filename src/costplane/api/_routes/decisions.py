"""Controller decisions as stored, newest first, filtered by window, kind, target and team."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from costplane.api import _core
from costplane.api._deps import ClockDep, PageDep, StoreDep, TeamScope
from costplane.api._errors import error_responses
from costplane.api._schemas import DecisionsPublic

router = APIRouter(tags=["decisions"], responses=error_responses(400, 401, 403, 422))


@router.get("/decisions", response_model=DecisionsPublic)
def list_decisions(team: TeamScope, store: StoreDep, clock: ClockDep, page: PageDep,
                   window: Annotated[str | None, Query(max_length=16, description="e.g. 24h; default: all")] = None,
                   kind: Annotated[str | None, Query(max_length=32)] = None,
                   target: Annotated[str | None, Query(max_length=256)] = None) -> dict:
    since_s = clock.now_s() - _core.parse_duration_s(window) if window else None
    rows, count = _core.list_decisions(store, team, since_s, None, kind, target, page.limit, page.offset)
    return {"data": rows, "count": count, "limit": page.limit, "offset": page.offset}
