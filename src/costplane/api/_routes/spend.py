"""Spend over time from the one cost path (costplane.costing), by team, project, workload or cloud (team-scoped)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from costplane.api import _core
from costplane.api._analytics import COST_END_ROUND_S
from costplane.api._deps import CatalogDep, ClockDep, NodesDep, StoreDep, TeamScope
from costplane.api._errors import error_responses
from costplane.api._schemas import SpendPublic

router = APIRouter(tags=["spend"], responses=error_responses(400, 401, 403, 422))


@router.get("/spend", response_model=SpendPublic)
def get_spend(team: TeamScope, store: StoreDep, clock: ClockDep, request: Request, catalog: CatalogDep, nodes: NodesDep,
              window: Annotated[str, Query(max_length=16, description="e.g. 7d, 24h")] = "7d",
              step: Annotated[str, Query(max_length=16, description="bucket width, e.g. 1d, 1h")] = "1d",
              by: Literal["team", "project", "workload", "cloud"] = "team",
              end_s: Annotated[float | None, Query(ge=0, le=1e11, allow_inf_nan=False,
                                                   description="window end, epoch s (default: now)")] = None) -> dict:
    """Cost per key per step; without `end_s` the window ends at the current whole minute, and answers are
    cached (like /cost) until new cost lines arrive."""
    window_s = _core.parse_duration_s(window)
    step_s = _core.parse_duration_s(step, "step")
    if end_s is None:
        end_s = float(int(clock.now_s() // COST_END_ROUND_S) * COST_END_ROUND_S)
    cache = request.app.state.cache
    key = ("spend", end_s, window_s, step_s, by, team, cache.version(store))
    return cache.get_or_compute(key, lambda: _core.spend_series(store, end_s, window_s, step_s, by, team, catalog,
                                                                    nodes))
