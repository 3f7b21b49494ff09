"""Cost allocation over a window, by team, project, workload or node (team-scoped): `costplane cost` as a route."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from costplane.api import _analytics, _core
from costplane.api._deps import CatalogDep, ClockDep, NodesDep, StoreDep, TeamScope
from costplane.api._errors import error_responses
from costplane.api._schemas import CostPublic

router = APIRouter(tags=["cost"], responses=error_responses(400, 401, 403, 422))


@router.get("/cost", response_model=CostPublic)
def get_cost(team: TeamScope, store: StoreDep, clock: ClockDep, catalog: CatalogDep, nodes: NodesDep, request: Request,
             window: Annotated[str, Query(max_length=16, description="e.g. 7d")] = "7d",
             by: Literal["team", "project", "workload", "node", "cloud"] = "team") -> dict:
    """Allocated cost per key plus idle; `sum(rows.cost_usd) + idle_usd == total_usd` to the cent.

    The window ends at the current whole minute; answers are cached until new cost lines or samples arrive.
    """
    return _analytics.cost_allocation_cached(request.app.state.cache, store, clock.now_s(),
                                             _core.parse_duration_s(window), by, team, catalog, nodes)
