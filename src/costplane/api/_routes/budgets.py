"""Budgets: CRUD (operator to change), each read with its spend and burn in the current period.

Webhook URLs are secrets: stored encrypted, always shown redacted (`https://host/…`); another team's
budget id is a 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from costplane.api import _core
from costplane.api._deps import (
    CatalogDep,
    ClockDep,
    NodesDep,
    Operator,
    PageDep,
    SettingsDep,
    StoreDep,
    TeamScope,
    pricing_inputs,
)
from costplane.api._errors import error_responses
from costplane.api._schemas import BudgetCreate, BudgetPublic, BudgetsPublic, BudgetUpdate

router = APIRouter(tags=["budgets"], responses=error_responses(400, 401, 403, 422))

BudgetId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/budgets", response_model=BudgetsPublic)
def list_budgets(team: TeamScope, store: StoreDep, clock: ClockDep, page: PageDep, catalog: CatalogDep,
                 nodes: NodesDep) -> dict:
    """Budgets with their spend this period from the one cost path (costplane.costing); demo data never counts."""
    data, count = _core.list_budgets(store, team, clock.now_s(), page.limit, page.offset, catalog, nodes)
    return {"data": data, "count": count, "limit": page.limit, "offset": page.offset}


@router.post("/budgets", response_model=BudgetPublic, status_code=201, responses=error_responses(409))
def create_budget(principal: Operator, store: StoreDep, clock: ClockDep, settings: SettingsDep, body: BudgetCreate) -> dict:
    """Create a budget; a `webhook_url` must be https to a public host (or one an admin allowed)."""
    return _core.create_budget(store, body.model_dump(), principal, clock.now_s(), settings.webhook_allow_hosts,
                               *pricing_inputs(settings))


@router.get("/budgets/{budget_id}", response_model=BudgetPublic, responses=error_responses(404))
def get_budget(budget_id: BudgetId, team: TeamScope, store: StoreDep, clock: ClockDep, catalog: CatalogDep,
               nodes: NodesDep) -> dict:
    return _core.get_budget(store, budget_id, team, clock.now_s(), catalog, nodes)


@router.patch("/budgets/{budget_id}", response_model=BudgetPublic, responses=error_responses(404, 409))
def update_budget(budget_id: BudgetId, principal: Operator, store: StoreDep, clock: ClockDep, settings: SettingsDep,
                  body: BudgetUpdate) -> dict:
    """Change the fields sent; `null` is refused for amount_usd, period and alert_thresholds (422) and
    removes the webhook."""
    return _core.update_budget(store, budget_id, body.model_dump(exclude_unset=True), principal, clock.now_s(),
                               settings.webhook_allow_hosts, *pricing_inputs(settings))


@router.delete("/budgets/{budget_id}", status_code=204, responses=error_responses(404))
def delete_budget(budget_id: BudgetId, principal: Operator, store: StoreDep, clock: ClockDep) -> Response:
    _core.delete_budget(store, budget_id, principal, clock.now_s())
    return Response(status_code=204)
