"""Budget ledger in the store for `costplane hpo` and `training.CostBudgetCallback`: the budgets of `costplane budget`.

`StoreLedger.open(team=T | project=P, study=S)` reads the month's budget of that team or project
(the `budgets` table) and its month-to-date spend from the one cost path (no demo rows), exactly
as `costplane budget status` does. Each trial's charge is written as a cost line (source `hpo`,
workload `hpo:STUDY`, the team/project, GPU-hours, the offer's cloud/region/instance type, tag
`kind: hpo`), so `cost`, `budget status`, the allocation API and /metrics all count it; the cost
path adds these lines on top of bills or GPU series (costing._store.CHARGE_SOURCES).

remaining = min(budget − month-to-date spend − charges of this run, search budget − charges of this run)
(∞ when neither is set). Lines are keyed by study, run and trial, so a rerun never overwrites one.
"""

from __future__ import annotations

import math
import time
from typing import Any

from sqlalchemy import select

from costplane.core.errors import InputError
from costplane.core.types import Catalog
from costplane.costing._store import CHARGE_SOURCES
from costplane.store import Budget, Store

CHARGE_SOURCE = CHARGE_SOURCES[0]


def set_month_budget(store: Store, scope: str, name: str, amount_usd: float) -> None:
    """Create or update the monthly budget of a team or project (what `costplane budget set` writes)."""
    from costplane.budget import BudgetSpec

    spec = BudgetSpec(scope, name, amount_usd)
    with store.session() as s:
        row = s.scalar(select(Budget).where(Budget.scope == spec.scope, Budget.name == spec.name,
                                            Budget.period == "month"))
        if row is None:
            row = Budget(scope=spec.scope, name=spec.name, period="month", alert_thresholds=list(spec.thresholds))
            s.add(row)
        row.amount_usd = spec.amount_usd


def month_spend(store: Store, catalog: Catalog, scope: str, name: str, now_s: float) -> float:
    """Month-to-date allocated spend of a team or project from the one cost path (as `budget status` sums it)."""
    from costplane.budget import month_bounds
    from costplane.costing._store import load_costs
    from costplane.costing._views import hourly_spend

    start, _, _ = month_bounds(now_s)
    costs = load_costs(store, catalog, start, now_s, include_demo=False)
    return float(hourly_spend(costs, scope, name, start, now_s).sum()) if not costs.empty else 0.0


class StoreLedger:
    """A `training.BudgetLedger` on the store: the team's (or project's) monthly budget and a search budget."""

    def __init__(self, store: Store, study: str, team: str | None = None, project: str | None = None,
                 budget_usd: float | None = None, month_budget_usd: float | None = None, spent_usd: float = 0.0,
                 offer: dict[str, Any] | None = None, clock=time.time) -> None:
        if team is not None and project is not None:
            raise InputError("a study charges one team or one project", fix="pass --team or --project, not both")
        if budget_usd is not None and not budget_usd > 0:
            raise InputError(f"search budget must be > 0 USD, got {budget_usd!r}", fix="pass --budget-usd 50")
        self.store, self.study, self.team, self.project = store, study, team, project
        self.budget_usd, self.month_budget_usd, self.spent_usd = budget_usd, month_budget_usd, spent_usd
        self.offer, self.clock = dict(offer or {}), clock
        self.charged_usd = 0.0
        self.run = f"{int(clock() * 1000):x}"

    @classmethod
    def open(cls, study: str, team: str | None = None, project: str | None = None, budget_usd: float | None = None,
             db: str | None = None, catalog: Catalog | None = None, offer: dict[str, Any] | None = None,
             clock=time.time) -> StoreLedger:
        """The ledger of `team` or `project` in the store at `db` (default: COSTPLANE_DB_URL or COSTPLANE_HOME)."""
        store = Store.open(db)
        month, spent = None, 0.0
        scope, name = ("team", team) if team is not None else ("project", project)
        if name is not None:
            with store.session() as s:
                row = s.scalar(select(Budget).where(Budget.scope == scope, Budget.name == name,
                                                    Budget.period == "month"))
                month = None if row is None else float(row.amount_usd)
            if month is not None:
                from costplane.catalog import load_catalog

                spent = month_spend(store, catalog or load_catalog(), scope, name, clock())
        return cls(store, study, team, project, budget_usd, month, spent, offer, clock)

    def remaining_usd(self) -> float:
        left = math.inf
        if self.month_budget_usd is not None:
            left = self.month_budget_usd - self.spent_usd - self.charged_usd
        if self.budget_usd is not None:
            left = min(left, self.budget_usd - self.charged_usd)
        return left

    def charge(self, charge) -> None:
        """Write one trial's charge as a cost line (source hpo) and count it against the budget."""
        end = self.clock()
        wall = max(1.0, charge.gpu_seconds / max(int(self.offer.get("gpus") or 1), 1))
        self.store.add_cost_records([{
            "source": CHARGE_SOURCE, "line_key": f"{self.study}/{self.run}/{charge.trial}",
            "period_start_s": end - wall, "period_end_s": end,
            "billed_cost_usd": charge.cost_usd, "effective_cost_usd": charge.cost_usd,
            "gpu_hours": charge.gpu_seconds / 3600.0, "workload": f"hpo:{self.study}", "team": self.team,
            "project": self.project, "cloud": self.offer.get("cloud"), "region": self.offer.get("region"),
            "resource_id": self.offer.get("instance_type"), "service": "costplane hpo",
            "tags": {"kind": "hpo", "trial": charge.trial, "state": charge.state, "gpu_seconds": charge.gpu_seconds},
        }])
        self.charged_usd += charge.cost_usd

    def to_dict(self) -> dict[str, Any]:
        return {"team": self.team, "project": self.project, "month_budget_usd": self.month_budget_usd,
                "month_spent_before_usd": round(self.spent_usd, 6), "search_budget_usd": self.budget_usd,
                "charged_usd": round(self.charged_usd, 6),
                "remaining_usd": None if math.isinf(self.remaining_usd()) else round(self.remaining_usd(), 6)}
