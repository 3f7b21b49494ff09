"""Waste findings on stored GPU utilisation (team-scoped): `costplane waste` as a route."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from costplane.api import _analytics, _core
from costplane.api._deps import CatalogDep, ClockDep, NodesDep, StoreDep, TeamScope
from costplane.api._errors import error_responses
from costplane.api._schemas import WastePublic

router = APIRouter(tags=["waste"], responses=error_responses(400, 401, 403, 422))


@router.get("/waste", response_model=WastePublic)
def get_waste(team: TeamScope, store: StoreDep, clock: ClockDep, catalog: CatalogDep, nodes: NodesDep,
              window: Annotated[str, Query(max_length=16, description="e.g. 1d")] = "1d",
              gpu: Annotated[str | None, Query(max_length=64, description="GPU model, to price GPU-hours")] = None,
              price_usd_per_gpu_hour: Annotated[float | None, Query(gt=0, le=1e4, allow_inf_nan=False)] = None,
              gpus_per_workload: Annotated[int, Query(ge=1, le=64)] = 1,
              idle_below_pct: Annotated[float, Query(ge=0, le=100, allow_inf_nan=False)] = 5.0) -> dict:
    """Paid vs used GPU-hours per workload, idle cost, and the action that saves most per month.

    Without `gpu` or `price_usd_per_gpu_hour`, GPU-hours are priced at what the stored cost lines paid.
    """
    end_s = clock.now_s()
    return _analytics.waste_findings(store, catalog, end_s - _core.parse_duration_s(window), end_s, team, gpu,
                                     price_usd_per_gpu_hour, gpus_per_workload, idle_below_pct, nodes)
