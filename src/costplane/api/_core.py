"""The service's core functions: what each route calls once, on the store and the catalog.

Reads are team-scoped by argument (`team=None` means every team); writes record their audit row
in the same transaction. Spend and budget spend come from the one cost path (costplane.costing):
a bill line of $10 over 10:00–12:00 puts $5 in the 10:00 hour bucket and $5 in the 11:00 one.
"""

from __future__ import annotations

import calendar
import time
from collections import defaultdict
from typing import Any

import numpy as np
from sqlalchemy import func, select

from costplane.api import _audit
from costplane.api._errors import Conflict, Forbidden, NotFound
from costplane.api._tokens import Principal
from costplane.budget._webhook import redact
from costplane.core.errors import InputError
from costplane.core.times import MAX_WINDOW_S
from costplane.core.times import parse_duration_s as _parse_duration
from costplane.core.types import Catalog
from costplane.store import Budget, DecisionRow, PlanRow, Store
from costplane.store.models import Project, Team

MAX_BUCKETS = 2000  # points per spend series: a 7-day window at 5-minute steps
UNALLOCATED = "(unallocated)"
SPEND_KEYS = ("team", "project", "workload", "cloud")


def parse_duration_s(text: str, what: str = "window") -> float:
    """'7d' -> 604800.0: the project's duration grammar (core.times), at most MAX_WINDOW_S."""
    return _parse_duration(text, what, MAX_WINDOW_S)


# ------------------------------------------------------------------ catalog

def list_offers(catalog: Catalog, gpu: str | None, cloud: str | None, region: str | None,
                limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    offers = catalog.offers
    if gpu:
        from costplane.core.gpus import resolve_gpu

        model = resolve_gpu(gpu, catalog.gpu_models)
        offers = tuple(o for o in offers if o.gpu == model)
    if cloud:
        offers = tuple(o for o in offers if o.cloud == cloud.lower())
    if region:
        offers = tuple(o for o in offers if o.region == region)
    return [o.to_dict() for o in offers[offset:offset + limit]], len(offers)


def catalog_summary(catalog: Catalog) -> dict[str, Any]:
    return {"as_of": catalog.as_of, "source": catalog.source, "offers": len(catalog.offers),
            "gpu_models": list(catalog.gpu_models), "clouds": sorted({o.cloud for o in catalog.offers})}


# ------------------------------------------------------------------ plans

def _plan_teams(spec: dict[str, Any]) -> list[str]:
    return sorted({w["team"] for w in spec.get("workloads", []) if isinstance(w, dict) and w.get("team")})


def plan_public(row: PlanRow, team: str | None = None) -> dict[str, Any]:
    """The plan; for a team, only its own workloads' assignments and their share of the cost.

    A team's `total_usd` is the sum of its assignments; its `naive_total_usd` is the plan's naive total
    scaled by the same share (the naive cost per workload is not stored).
    """
    out = {"id": row.id, "created_at_s": row.created_at_s, "catalog_source": row.catalog_source,
           "status": row.status, "total_usd": row.total_usd, "naive_total_usd": row.naive_total_usd,
           "teams": _plan_teams(row.spec), "assignments": row.assignments}
    if team is None:
        return out
    own = {w["name"] for w in row.spec.get("workloads", []) if isinstance(w, dict) and w.get("team") == team}
    assignments = [a for a in row.assignments or [] if a.get("workload") in own]
    total = round(sum(float(a.get("total_usd") or 0.0) for a in assignments), 6)
    share = total / row.total_usd if row.total_usd else 0.0
    return {**out, "teams": [team], "assignments": assignments, "total_usd": total,
            "naive_total_usd": round(row.naive_total_usd * share, 6)}


def _plan_has_team(row: PlanRow, team: str) -> bool:
    return team in _plan_teams(row.spec)


def _check_plan_teams(principal: Principal, spec: dict[str, Any]) -> None:
    if principal.team is None:
        return
    foreign = [t for t in _plan_teams(spec) if t != principal.team]
    untagged = [w["name"] for w in spec["workloads"] if not w.get("team")]
    if foreign or untagged:
        raise Forbidden(f"token {principal.name!r} of team {principal.team!r} may plan only its own workloads "
                        f"(found {', '.join(foreign) or 'untagged ' + ', '.join(untagged)})",
                        fix=f"set team: {principal.team} on every workload")


def create_plan(store: Store, catalog: Catalog, spec: dict[str, Any], principal: Principal, now_s: float) -> dict[str, Any]:
    """Solve the fleet MILP, store the plan with its inputs and audit it."""
    from costplane.placement import parse_fleet_spec, plan_fleet

    _check_plan_teams(principal, spec)
    plan = plan_fleet(parse_fleet_spec(spec, "request body"), catalog, time_limit_s=10.0).to_dict()
    with store.session() as s:
        row = PlanRow(created_at_s=now_s, catalog_source=catalog.source, status=plan["status"],
                      total_usd=plan["total_usd"], naive_total_usd=plan["naive_total_usd"], spec=spec,
                      assignments=plan["assignments"])
        s.add(row)
        s.flush()
        teams = _plan_teams(spec)
        _audit.record(s, now_s, principal.name, "plan.create", f"plan:{row.id}",
                      {"total_usd": plan["total_usd"], "teams": teams}, team=teams[0] if len(teams) == 1 else None)
        return plan_public(row, principal.team)


def list_plans(store: Store, team: str | None, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """Newest first; a team sees the plans that hold any of its workloads, and of those only its own part."""
    with store.session() as s:
        if team is None:
            count = int(s.scalar(select(func.count()).select_from(PlanRow)) or 0)
            rows = s.scalars(select(PlanRow).order_by(PlanRow.id.desc()).limit(limit).offset(offset)).all()
            return [plan_public(r) for r in rows], count
        # Teams live inside the JSON spec; filtering in Python keeps one query for SQLite and PostgreSQL.
        visible = [plan_public(r, team) for r in s.scalars(select(PlanRow).order_by(PlanRow.id.desc())).all()
                   if _plan_has_team(r, team)]
        return visible[offset:offset + limit], len(visible)


def get_plan(store: Store, plan_id: int, team: str | None) -> dict[str, Any]:
    """A plan; for a team, 404 unless it holds the team's workloads (another team's ids are not revealed)."""
    with store.session() as s:
        row = s.get(PlanRow, plan_id)
        if row is None or (team is not None and not _plan_has_team(row, team)):
            raise NotFound(f"no plan with id {plan_id}", fix="list plans with GET /api/v1/plans")
        return plan_public(row, team)


# ------------------------------------------------------------------ spend from cost lines

def spend_series(store: Store, end_s: float, window_s: float, step_s: float, by: str,
                 team: str | None, catalog: Catalog | None = None, nodes=None) -> dict[str, Any]:
    """Allocated cost per `by` key per step over [end - window, end) from the one cost path (costplane.costing).

    Idle capacity is the `(unallocated)` series (absent from a team's view, as it belongs to no team).
    """
    from costplane.catalog import load_catalog
    from costplane.costing import load_costs, spend_buckets

    if by not in SPEND_KEYS:
        raise InputError(f"by={by!r} is not one of {', '.join(SPEND_KEYS)}", fix="use by=team")
    if step_s > window_s or window_s / step_s > MAX_BUCKETS:
        raise InputError(f"step {step_s:g}s makes {window_s / step_s:.0f} points over {window_s:g}s",
                         fix=f"pick a step between window/{MAX_BUCKETS} and the window")
    start_s = end_s - window_s
    costs = load_costs(store, catalog or load_catalog(), start_s, end_s, nodes=nodes)
    starts, by_key, idle = spend_buckets(costs, start_s, end_s, step_s, by, team)
    totals = dict(by_key)
    if team is None and idle.any():
        totals[UNALLOCATED] = idle
    series = [{"key": k, "cost_usd": round(float(v.sum()), 6),
               "points": [{"start_s": float(t), "cost_usd": round(float(c), 6)} for t, c in zip(starts, v)]}
              for k, v in sorted(totals.items(), key=lambda kv: -kv[1].sum())]
    return {"start_s": start_s, "end_s": end_s, "step_s": step_s, "by": by,
            "total_usd": round(sum(s["cost_usd"] for s in series), 6), "series": series}


def cost_rates(store: Store, end_s: float, window_s: float, catalog: Catalog | None = None, nodes=None
               ) -> tuple[dict[tuple[str, str], float], dict[str, float]]:
    """(USD/h by (team, workload), idle USD/h by team) over the last `window_s`, from the one cost path (/metrics).

    Idle by team is the unused share of each workload's cost (1 − efficiency) plus, under `(unallocated)`,
    capacity no workload claimed.
    """
    from costplane.attribute import CostKind, Window
    from costplane.catalog import load_catalog
    from costplane.costing import load_costs

    window = Window(end_s - window_s, end_s)
    cs = load_costs(store, catalog or load_catalog(), window.start_s, window.end_s, nodes=nodes).cost_set(window)
    rates: dict[tuple[str, str], float] = defaultdict(float)
    idle: dict[str, float] = defaultdict(float)
    per_h = 3600.0 / window_s
    for row in cs.rows:
        usd_h = row.cost_usd * per_h
        if row.kind is CostKind.ALLOCATED:
            team = row.label("team") or UNALLOCATED
            rates[(team, row.label("workload") or UNALLOCATED)] += usd_h
            if row.efficiency is not None:
                idle[team] += usd_h * (1.0 - min(max(row.efficiency, 0.0), 1.0))
        elif row.kind is CostKind.IDLE:
            rates[(UNALLOCATED, UNALLOCATED)] += usd_h
            idle[UNALLOCATED] += usd_h
    return dict(rates), dict(idle)


# ------------------------------------------------------------------ budgets

def period_start_s(period: str, now_s: float) -> float:
    """Start of the UTC day, ISO week (Monday) or month that contains `now_s`."""
    t = time.gmtime(now_s)
    day_start = calendar.timegm((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0))
    if period == "day":
        return float(day_start)
    if period == "week":
        return float(day_start - t.tm_wday * 86400)
    return float(calendar.timegm((t.tm_year, t.tm_mon, 1, 0, 0, 0)))


def _budget_team(s, budget: Budget) -> str | None:
    if budget.scope == "team":
        return budget.name
    return s.scalar(select(Team.name).join(Project, Project.team_id == Team.id).where(Project.name == budget.name))


def budget_costs(store: Store, now_s: float, catalog: Catalog | None = None, nodes=None):
    """The one cost path (costplane.costing) from the earliest period start to now, demo rows excluded."""
    from costplane.catalog import load_catalog
    from costplane.costing import load_costs

    start = min(period_start_s(p, now_s) for p in ("day", "week", "month"))
    return load_costs(store, catalog or load_catalog(), start, now_s, nodes=nodes, include_demo=False)


def _hourly_spend(costs, budget: Budget, start_s: float, now_s: float) -> np.ndarray:
    """Allocated spend of the budget's team or project per hour from `start_s` to `now_s` (costplane.costing)."""
    from costplane.costing import hourly_spend

    return hourly_spend(costs, budget.scope, budget.name, start_s, now_s) if now_s > start_s else np.zeros(1)


def budget_public(s, budget: Budget, now_s: float, costs) -> dict[str, Any]:
    """A budget with its spend this period (`costs`: `budget_costs`); month budgets also get the forecast and alerts."""
    start = period_start_s(budget.period, now_s)
    hourly = _hourly_spend(costs, budget, start, now_s)
    spent = float(hourly.sum())
    out = {"id": budget.id, "scope": budget.scope, "name": budget.name, "team": _budget_team(s, budget),
           "period": budget.period, "amount_usd": budget.amount_usd, "alert_thresholds": budget.alert_thresholds,
           "webhook_url": redact(budget.webhook_url), "spent_usd": round(spent, 2),
           "burn_ratio": round(spent / budget.amount_usd, 6) if budget.amount_usd else 0.0, "period_start_s": start,
           "forecast_usd": None, "alerts": []}
    if budget.period == "month":
        try:
            from costplane.budget import BudgetSpec, evaluate
        except ImportError:  # a build without the budget package: spend and burn only
            return out
        spec = BudgetSpec(budget.scope, budget.name, budget.amount_usd, tuple(budget.alert_thresholds or ()))
        status = evaluate(spec, hourly, now_s)
        out["forecast_usd"] = round(status.forecast_usd, 6)
        out["alerts"] = [{"threshold": a.threshold, "basis": a.basis} for a in status.alerts]
    return out


def list_budgets(store: Store, team: str | None, now_s: float, limit: int, offset: int,
                 catalog: Catalog | None = None, nodes=None) -> tuple[list[dict], int]:
    costs = budget_costs(store, now_s, catalog, nodes)
    with store.session() as s:
        budgets = [budget_public(s, b, now_s, costs) for b in s.scalars(select(Budget).order_by(Budget.id)).all()]
    if team is not None:
        budgets = [b for b in budgets if b["team"] == team]
    return budgets[offset:offset + limit], len(budgets)


def _visible_budget(s, budget_id: int, team: str | None) -> Budget:
    budget = s.get(Budget, budget_id)
    if budget is None or (team is not None and _budget_team(s, budget) != team):  # 404: ids of others stay unknown
        raise NotFound(f"no budget with id {budget_id}", fix="list budgets with GET /api/v1/budgets")
    return budget


def get_budget(store: Store, budget_id: int, team: str | None, now_s: float,
               catalog: Catalog | None = None, nodes=None) -> dict[str, Any]:
    costs = budget_costs(store, now_s, catalog, nodes)
    with store.session() as s:
        return budget_public(s, _visible_budget(s, budget_id, team), now_s, costs)


def _checked_webhook(fields: dict[str, Any], allow_hosts: tuple[str, ...]) -> dict[str, Any]:
    if fields.get("webhook_url"):
        from costplane.budget._webhook import check_webhook_url

        fields = {**fields, "webhook_url": check_webhook_url(fields["webhook_url"], allow_hosts)}
    return fields


def create_budget(store: Store, fields: dict[str, Any], principal: Principal, now_s: float,
                  allow_hosts: tuple[str, ...] = (), catalog: Catalog | None = None, nodes=None) -> dict[str, Any]:
    fields = _checked_webhook(fields, allow_hosts)
    with store.session() as s:
        budget = Budget(**fields)
        if principal.team is not None and _budget_team(s, budget) != principal.team:
            raise Forbidden(f"token {principal.name!r} may create budgets only for team {principal.team!r}",
                            fix=f"use scope=team, name={principal.team}")
        clash = s.scalar(select(Budget.id).where(Budget.scope == budget.scope, Budget.name == budget.name,
                                                 Budget.period == budget.period))
        if clash is not None:
            raise Conflict(f"budget {clash} already covers {budget.scope} {budget.name!r} per {budget.period}",
                           fix=f"update it with PATCH /api/v1/budgets/{clash}")
        s.add(budget)
        s.flush()
        _audit.record(s, now_s, principal.name, "budget.create", f"budget:{budget.id}", fields,
                      team=_budget_team(s, budget))
        return budget_public(s, budget, now_s, budget_costs(store, now_s, catalog, nodes))


def update_budget(store: Store, budget_id: int, changes: dict[str, Any], principal: Principal,
                  now_s: float, allow_hosts: tuple[str, ...] = (), catalog: Catalog | None = None,
                  nodes=None) -> dict[str, Any]:
    changes = _checked_webhook(changes, allow_hosts)
    with store.session() as s:
        budget = _visible_budget(s, budget_id, principal.team)
        if "period" in changes:
            clash = s.scalar(select(Budget.id).where(Budget.scope == budget.scope, Budget.name == budget.name,
                                                     Budget.period == changes["period"], Budget.id != budget_id))
            if clash is not None:
                raise Conflict(f"budget {clash} already covers this {budget.scope} per {changes['period']}",
                               fix=f"update budget {clash} instead")
        for key, value in changes.items():
            setattr(budget, key, value)
        _audit.record(s, now_s, principal.name, "budget.update", f"budget:{budget_id}", changes,
                      team=_budget_team(s, budget))
        s.flush()
        return budget_public(s, budget, now_s, budget_costs(store, now_s, catalog, nodes))


def delete_budget(store: Store, budget_id: int, principal: Principal, now_s: float) -> None:
    with store.session() as s:
        budget = _visible_budget(s, budget_id, principal.team)
        _audit.record(s, now_s, principal.name, "budget.delete", f"budget:{budget_id}",
                      {"scope": budget.scope, "name": budget.name, "amount_usd": budget.amount_usd},
                      team=_budget_team(s, budget))
        s.delete(budget)


# ------------------------------------------------------------------ decisions

def list_decisions(store: Store, team: str | None, since_s: float | None, until_s: float | None,
                   kind: str | None, target: str | None, limit: int, offset: int) -> tuple[list[DecisionRow], int]:
    """Newest first, filtered by time window, kind, target and team."""
    query = select(DecisionRow)
    if team is not None:
        query = query.where(DecisionRow.team == team)
    if since_s is not None:
        query = query.where(DecisionRow.created_at_s >= since_s)
    if until_s is not None:
        query = query.where(DecisionRow.created_at_s < until_s)
    if kind:
        query = query.where(DecisionRow.kind == kind)
    if target:
        query = query.where(DecisionRow.target == target)
    with store.session() as s:
        count = int(s.scalar(select(func.count()).select_from(query.subquery())) or 0)
        rows = s.scalars(query.order_by(DecisionRow.created_at_s.desc(), DecisionRow.id.desc())
                         .limit(limit).offset(offset)).all()
    return list(rows), count
