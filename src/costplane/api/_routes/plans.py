"""Fleet plans: solve and store (operator), list and read (team-scoped)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from costplane.api import _core
from costplane.api._deps import CatalogDep, ClockDep, Operator, PageDep, StoreDep, TeamScope
from costplane.api._errors import error_responses
from costplane.api._schemas import PlanCreate, PlanPublic, PlansPublic

router = APIRouter(tags=["plans"], responses=error_responses(400, 401, 403, 422))

PlanId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post("/plans", response_model=PlanPublic, status_code=201)
def create_plan(principal: Operator, store: StoreDep, clock: ClockDep, catalog: CatalogDep, body: PlanCreate) -> dict:
    """Place a fleet jointly at minimum cost under quotas (MILP) and store the plan."""
    return _core.create_plan(store, catalog, body.model_dump(exclude_none=True), principal, clock.now_s())


@router.get("/plans", response_model=PlansPublic)
def list_plans(team: TeamScope, store: StoreDep, page: PageDep) -> dict:
    """Stored plans, newest first."""
    data, count = _core.list_plans(store, team, page.limit, page.offset)
    return {"data": data, "count": count, "limit": page.limit, "offset": page.offset}


@router.get("/plans/{plan_id}", response_model=PlanPublic, responses=error_responses(404))
def get_plan(plan_id: PlanId, team: TeamScope, store: StoreDep) -> dict:
    return _core.get_plan(store, plan_id, team)
