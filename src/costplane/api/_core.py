"""The service's core functions: what each route calls once, on the store and the catalog.

Reads are team-scoped by argument (`team=None` means every team); writes record their audit row
in the same transaction. Spend is read from stored cost lines, prorated by overlap: a line of $10
over 10:00–12:00 puts $5 in the 10:00 hour bucket and $5 in the 11:00 one.
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
from costplane.core.errors import InputError
from costplane.core.times import MAX_WINDOW_S
from costplane.core.times import parse_duration_s as _parse_duration
from costplane.core.types import Catalog
from costplane.store import Budget, CostRecord, DecisionRow, PlanRow, Store
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


def plan_public(row: PlanRow) -> dict[str, Any]:
    return {"id": row.id, "created_at_s": row.created_at_s, "catalog_source": row.catalog_source,
            "status": row.status, "total_usd": row.total_usd, "naive_total_usd": row.naive_total_usd,
            "teams": _plan_teams(row.spec), "assignments": row.assignments}


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
        _audit.record(s, now_s, principal.name, "plan.create", f"plan:{row.id}",
                      {"total_usd": plan["total_usd"], "teams": _plan_teams(spec)})
        return plan_public(row)


def list_plans(store: Store, team: str | None, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """Newest first; a team sees the plans all of whose workloads are its own."""
    with store.session() as s:
        if team is None:
            count = int(s.scalar(select(func.count()).select_from(PlanRow)) or 0)
            rows = s.scalars(select(PlanRow).order_by(PlanRow.id.desc()).limit(limit).offset(offset)).all()
            return [plan_public(r) for r in rows], count
        # Teams live inside the JSON spec; filtering in Python keeps one query for SQLite and PostgreSQL.
        visible = [plan_public(r) for r in s.scalars(select(PlanRow).order_by(PlanRow.id.desc())).all()
                   if _plan_teams(r.spec) == [team]]
        return visible[offset:offset + limit], len(visible)


def get_plan(store: Store, plan_id: int, team: str | None) -> dict[str, Any]:
    with store.session() as s:
        row = s.get(PlanRow, plan_id)
        if row is None:
            raise NotFound(f"no plan with id {plan_id}", fix="list plans with GET /api/v1/plans")
        plan = plan_public(row)
    if team is not None and plan["teams"] != [team]:
        raise Forbidden(f"plan {plan_id} is not team {team!r}'s", fix="use a token of the plan's team")
    return plan


# ------------------------------------------------------------------ spend from cost lines

def _cost_rows(store: Store, start_s: float, end_s: float, team: str | None, by: str) -> np.ndarray:
    column = getattr(CostRecord, by)
    query = (select(CostRecord.period_start_s, CostRecord.period_end_s, CostRecord.effective_cost_usd, column)
             .where(CostRecord.period_end_s > start_s, CostRecord.period_start_s < end_s))
    if team is not None:
        query = query.where(CostRecord.team == team)
    with store.session() as s:
        return s.execute(query).all()


def spend_series(store: Store, end_s: float, window_s: float, step_s: float, by: str,
                 team: str | None) -> dict[str, Any]:
    """Cost per `by` key per step over [end - window, end), prorated by each line's overlap."""
    if by not in SPEND_KEYS:
        raise InputError(f"by={by!r} is not one of {', '.join(SPEND_KEYS)}", fix="use by=team")
    if step_s > window_s or window_s / step_s > MAX_BUCKETS:
        raise InputError(f"step {step_s:g}s makes {window_s / step_s:.0f} points over {window_s:g}s",
                         fix=f"pick a step between window/{MAX_BUCKETS} and the window")
    start_s = end_s - window_s
    edges = start_s + step_s * np.arange(int(np.ceil(window_s / step_s)) + 1)
    edges[-1] = end_s
    totals: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(len(edges) - 1))
    for p_start, p_end, cost, key in _cost_rows(store, start_s, end_s, team, by):
        length = max(p_end - p_start, 1e-9)
        overlap = np.clip(np.minimum(edges[1:], p_end) - np.maximum(edges[:-1], p_start), 0.0, None)
        totals[key or UNALLOCATED] += cost * overlap / length
    series = [{"key": k, "cost_usd": round(float(v.sum()), 6),
               "points": [{"start_s": float(t), "cost_usd": round(float(c), 6)} for t, c in zip(edges[:-1], v)]}
              for k, v in sorted(totals.items(), key=lambda kv: -kv[1].sum())]
    return {"start_s": start_s, "end_s": end_s, "step_s": step_s, "by": by,
            "total_usd": round(sum(s["cost_usd"] for s in series), 6), "series": series}


def cost_rate_usd_per_hour(store: Store, end_s: float, window_s: float) -> dict[tuple[str, str], float]:
    """Average cost rate by (team, workload) over the last `window_s`, USD per hour (for /metrics)."""
    query = (select(CostRecord.period_start_s, CostRecord.period_end_s, CostRecord.effective_cost_usd,
                    CostRecord.team, CostRecord.workload)
             .where(CostRecord.period_end_s > end_s - window_s, CostRecord.period_start_s < end_s))
    rates: dict[tuple[str, str], float] = defaultdict(float)
    with store.session() as s:
        for p_start, p_end, cost, team, workload in s.execute(query):
            overlap = min(p_end, end_s) - max(p_start, end_s - window_s)
            if overlap > 0:
                rates[(team or UNALLOCATED, workload or UNALLOCATED)] += cost * overlap / max(p_end - p_start, 1e-9)
    return {k: v * 3600.0 / window_s for k, v in rates.items()}


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


def _hourly_spend(s, budget: Budget, start_s: float, now_s: float) -> np.ndarray:
    """Spend of the budget's team or project per hour from `start_s` to `now_s`, lines prorated by overlap."""
    column = CostRecord.team if budget.scope == "team" else CostRecord.project
    rows = s.execute(select(CostRecord.period_start_s, CostRecord.period_end_s, CostRecord.effective_cost_usd)
                     .where(column == budget.name, CostRecord.period_end_s > start_s,
                            CostRecord.period_start_s < now_s)).all()
    edges = np.append(start_s + 3600.0 * np.arange(max(int(np.ceil((now_s - start_s) / 3600.0)), 1)), now_s)
    hourly = np.zeros(len(edges) - 1)
    for b, e, c in rows:
        overlap = np.clip(np.minimum(edges[1:], e) - np.maximum(edges[:-1], b), 0.0, None)
        hourly += c * overlap / max(e - b, 1e-9)
    return hourly


def budget_public(s, budget: Budget, now_s: float) -> dict[str, Any]:
    """A budget with its spend this period; month budgets also get costplane.budget's forecast and alerts."""
    start = period_start_s(budget.period, now_s)
    hourly = _hourly_spend(s, budget, start, now_s)
    spent = float(hourly.sum())
    out = {"id": budget.id, "scope": budget.scope, "name": budget.name, "team": _budget_team(s, budget),
           "period": budget.period, "amount_usd": budget.amount_usd, "alert_thresholds": budget.alert_thresholds,
           "webhook_url": budget.webhook_url, "spent_usd": round(spent, 6),
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


def list_budgets(store: Store, team: str | None, now_s: float, limit: int, offset: int) -> tuple[list[dict], int]:
    with store.session() as s:
        budgets = [budget_public(s, b, now_s) for b in s.scalars(select(Budget).order_by(Budget.id)).all()]
    if team is not None:
        budgets = [b for b in budgets if b["team"] == team]
    return budgets[offset:offset + limit], len(budgets)


def _visible_budget(s, budget_id: int, team: str | None) -> Budget:
    budget = s.get(Budget, budget_id)
    if budget is None:
        raise NotFound(f"no budget with id {budget_id}", fix="list budgets with GET /api/v1/budgets")
    if team is not None and _budget_team(s, budget) != team:
        raise Forbidden(f"budget {budget_id} is not team {team!r}'s", fix="use a token of the budget's team")
    return budget


def get_budget(store: Store, budget_id: int, team: str | None, now_s: float) -> dict[str, Any]:
    with store.session() as s:
        return budget_public(s, _visible_budget(s, budget_id, team), now_s)


def create_budget(store: Store, fields: dict[str, Any], principal: Principal, now_s: float) -> dict[str, Any]:
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
        _audit.record(s, now_s, principal.name, "budget.create", f"budget:{budget.id}", fields)
        return budget_public(s, budget, now_s)


def update_budget(store: Store, budget_id: int, changes: dict[str, Any], principal: Principal,
                  now_s: float) -> dict[str, Any]:
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
        _audit.record(s, now_s, principal.name, "budget.update", f"budget:{budget_id}", changes)
        s.flush()
        return budget_public(s, budget, now_s)


def delete_budget(store: Store, budget_id: int, principal: Principal, now_s: float) -> None:
    with store.session() as s:
        budget = _visible_budget(s, budget_id, principal.team)
        _audit.record(s, now_s, principal.name, "budget.delete", f"budget:{budget_id}",
                      {"scope": budget.scope, "name": budget.name, "amount_usd": budget.amount_usd})
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
