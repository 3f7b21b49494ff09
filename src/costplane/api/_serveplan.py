"""`POST /api/v1/serve-plan`: the cheapest candidate that keeps an inference SLO on a posted demand series."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from costplane.api._deps import CatalogDep, Viewer
from costplane.api._errors import error_responses
from costplane.serveplan import ServePlanProfile, require_choice

router = APIRouter(tags=["serve-plan"], responses=error_responses(400, 401, 403, 422))

NonNeg = Annotated[float, Field(ge=0, le=1e12)]


class ServePlanCreate(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    profile: ServePlanProfile = Field(description="The serve-plan profile (docs/serve-plan.md), as JSON.")
    counts: list[NonNeg] = Field(min_length=1, max_length=20_000,
                                 description="Demand units that arrived in each step, oldest first.")
    step_s: float = Field(1.0, gt=0, le=3_600)
    decision_interval_s: float = Field(15.0, ge=1, le=3_600)


class ServePlanPublic(BaseModel):
    model_config = ConfigDict(extra="allow")
    choice: dict[str, Any]
    candidates: list[dict[str, Any]]
    frontier: list[dict[str, Any]]


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


@router.post("/serve-plan", response_model=ServePlanPublic)
def create_serve_plan(_: Viewer, catalog: CatalogDep, body: ServePlanCreate) -> dict:
    """Replay every candidate that fits over the demand with the default policy; the cheapest meeting the SLO.

    422 `infeasible` when no candidate meets the SLO (the message names the best served share).
    """
    from costplane.replay.serve_plan import run_serve_plan
    from costplane.traces import DemandSeries

    series = DemandSeries(0.0, body.step_s, np.asarray(body.counts, dtype=float), source="request body")
    plan = run_serve_plan(body.profile, series, catalog, decision_interval_s=body.decision_interval_s)
    require_choice(plan)
    return _finite(plan.to_dict())
