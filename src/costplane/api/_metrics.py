"""Prometheus metrics on a per-app CollectorRegistry (no process globals): read from the store at scrape.

Gauges (all names `costplane_*`, money in USD, rates per hour as the Prometheus convention for cost
dashboards, ratios 0..1):
  costplane_cost_usd_per_hour{team,workload}      average over the last `rate_window_s`, from the one cost
                                                  path (costplane.costing: bill lines or priced GPU series)
  costplane_idle_cost_usd_per_hour{team}          the unused share (1 - efficiency) of each workload's cost,
                                                  plus capacity no workload claimed under (unallocated)
  costplane_gpu_utilisation_ratio{workload}       mean GPU utilisation over the same window
  costplane_replicas_desired{target,team}         the controller's newest decision per target
  costplane_replicas_actual{target,team}          the replicas it observed then
  costplane_demand_forecast{target,team} / costplane_demand_actual{target,team}
  costplane_budget_spent_usd / _amount_usd / _burn_ratio{budget,team,period}
Counters (CounterCollector): costplane_cost_usd_total{team,workload}, costplane_decisions_total,
costplane_actuations_total, for Grafana's increase().
plus request counters and latency histograms of the service itself.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from costplane.api import _core
from costplane.api._settings import Settings
from costplane.core.clock import Clock
from costplane.store import Budget, DecisionRow, Store, UsageSample

UTIL_METRICS = ("gpu_util_pct", "gpu_utilisation_pct", "gpu_util")  # usage_samples.metric names, percent 0..100
DECISION_LOOKBACK_S = 24 * 3600.0  # targets without a decision for a day drop out of the replica gauges


class StoreCollector(Collector):
    """Cost, utilisation, controller and budget gauges computed from the store at each scrape."""

    def __init__(self, store: Store, clock: Clock, settings: Settings) -> None:
        self.store, self.clock, self.settings = store, clock, settings

    def collect(self):
        now_s = self.clock.now_s()
        from costplane.api._deps import pricing_inputs

        rates, idle = _core.cost_rates(self.store, now_s, self.settings.rate_window_s, *pricing_inputs(self.settings))
        util = self._latest_utilisation(now_s)
        yield from self._cost(rates, idle)
        yield from self._utilisation(util)
        yield from self._decisions(now_s)
        yield from self._budgets(now_s)

    def _cost(self, rates, idle_by_team):
        """Cost and idle rates from the one cost path (costplane.costing) over the rate window."""
        cost = GaugeMetricFamily("costplane_cost_usd_per_hour", "Cost rate by team and workload (USD per hour).",
                                 labels=["team", "workload"])
        for (team, workload), rate in sorted(rates.items()):
            cost.add_metric([team, workload], rate)
        yield cost
        idle = GaugeMetricFamily("costplane_idle_cost_usd_per_hour",
                                 "Cost of unused GPU time by team (USD per hour).", labels=["team"])
        for team, rate in sorted(idle_by_team.items()):
            idle.add_metric([team], rate)
        yield idle

    def _latest_utilisation(self, now_s: float) -> dict[str, float]:
        """Mean GPU utilisation (0..1) per workload over the rate window: the same hour the cost rate covers."""
        query = (select(UsageSample.workload, func.avg(UsageSample.value))
                 .where(UsageSample.metric.in_(UTIL_METRICS), UsageSample.ts_s <= now_s,
                        UsageSample.ts_s > now_s - self.settings.rate_window_s, UsageSample.workload.is_not(None))
                 .group_by(UsageSample.workload))
        with self.store.session() as s:
            return {w: float(v) / 100.0 for w, v in s.execute(query)}

    def _utilisation(self, util):
        g = GaugeMetricFamily("costplane_gpu_utilisation_ratio", "Mean GPU utilisation by workload over the rate window (0..1).",
                              labels=["workload"])
        for workload, value in sorted(util.items()):
            g.add_metric([workload], value)
        yield g

    def _decisions(self, now_s: float):
        newest = (select(DecisionRow.target, func.max(DecisionRow.created_at_s).label("at"))
                  .where(DecisionRow.created_at_s > now_s - DECISION_LOOKBACK_S).group_by(DecisionRow.target).subquery())
        query = select(DecisionRow).join(newest, (DecisionRow.target == newest.c.target)
                                         & (DecisionRow.created_at_s == newest.c.at))
        families = {
            "desired": GaugeMetricFamily("costplane_replicas_desired", "Replicas the controller decided.",
                                         labels=["target", "team"]),
            "actual": GaugeMetricFamily("costplane_replicas_actual", "Replicas observed at the decision.",
                                        labels=["target", "team"]),
            "forecast": GaugeMetricFamily("costplane_demand_forecast", "Demand forecast used by the decision "
                                          "(units per second).", labels=["target", "team"]),
            "demand": GaugeMetricFamily("costplane_demand_actual", "Demand observed at the decision "
                                        "(units per second).", labels=["target", "team"]),
        }
        seen: set[str] = set()
        with self.store.session() as s:
            for row in s.scalars(query.order_by(DecisionRow.id.desc())):
                if row.target in seen:
                    continue
                seen.add(row.target)
                labels = [row.target, row.team or ""]
                for key, family, source in (("replicas", "desired", row.desired),
                                            ("replicas", "actual", row.observation),
                                            ("forecast", "forecast", {**row.observation, **row.desired}),
                                            ("demand", "demand", row.observation)):
                    value = _number(source, key)
                    if value is not None:
                        families[family].add_metric(labels, value)
        yield from families.values()

    def _budgets(self, now_s: float):
        from costplane.api._deps import pricing_inputs

        spent = GaugeMetricFamily("costplane_budget_spent_usd", "Spend in the budget's current period (USD).",
                                  labels=["budget", "team", "period"])
        amount = GaugeMetricFamily("costplane_budget_amount_usd", "Budget amount per period (USD).",
                                   labels=["budget", "team", "period"])
        burn = GaugeMetricFamily("costplane_budget_burn_ratio", "spent / amount in the current period.",
                                 labels=["budget", "team", "period"])
        with self.store.session() as s:
            costs = _core.budget_costs(self.store, now_s, *pricing_inputs(self.settings))
            for budget in s.scalars(select(Budget).order_by(Budget.id)):
                b = _core.budget_public(s, budget, now_s, costs)
                labels = [f"{b['scope']}:{b['name']}", b["team"] or "", b["period"]]
                spent.add_metric(labels, b["spent_usd"])
                amount.add_metric(labels, b["amount_usd"])
                burn.add_metric(labels, b["burn_ratio"])
        yield from (spent, amount, burn)


def _number(data: dict, key: str) -> float | None:
    """A numeric field of a stored decision, under the names the controller writes (first found wins).

    desired = {"replicas", "current", "policy", ["forecast_per_s"]}; observation = {"current_replicas",
    "demand_per_s": [...]} whose last point is the demand seen at the decision.
    """
    aliases = {"replicas": ("replicas", "current_replicas", "current"),
               "forecast": ("forecast_per_s", "forecast"),
               "demand": ("demand_per_s", "demand")}[key]
    for alias in aliases:
        value = data.get(alias) if isinstance(data, dict) else None
        if isinstance(value, list) and value:
            value = value[-1]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


class HttpMetrics:
    """ASGI middleware: request count and latency by method, route template and status."""

    def __init__(self, app, registry: CollectorRegistry, prefixes: tuple[str, ...] = ()) -> None:
        self.app, self.prefixes = app, prefixes
        self.requests = Counter("costplane_http_requests", "HTTP requests served.",
                                ["method", "route", "status"], registry=registry)
        self.latency = Histogram("costplane_http_request_duration_seconds", "HTTP request latency.",
                                 ["method", "route"], registry=registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            # The template (/api/v1/budgets/{budget_id}), never the raw path: label sets stay bounded.
            path = getattr(route, "path", None) or "(unmatched)"
            # Routes of an included router may report their path without the router's prefix.
            prefix = next((p for p in self.prefixes if scope["path"].startswith(p) and not path.startswith(p)), "")
            path = prefix + path if route is not None else path
            self.requests.labels(scope["method"], path, str(status["code"])).inc()
            self.latency.labels(scope["method"], path).observe(time.perf_counter() - started)


class CounterCollector(Collector):
    """Cumulative counters for Grafana's `increase()` / `rate()`, computed from the store at each scrape.

      costplane_cost_usd_total{team,workload}   cost from the store's first data point to the current whole
                                                 minute, from the one cost path (the same rows as /cost);
                                                 idle capacity counts under team=workload="(unallocated)"
      costplane_decisions_total{team,kind}       controller decisions stored
      costplane_actuations_total{team,actuator}  decisions acted on (dry-run included, labelled as such)

    Cost only grows as the window end moves forward or data arrives, so it is a counter; a purge of
    data lowers it, which Prometheus reads as a counter reset. The cost is recomputed at most once a
    minute per data version (like /cost), not at every scrape.
    """

    def __init__(self, store: Store, clock: Clock, settings: Settings) -> None:
        self.store, self.clock, self.settings = store, clock, settings
        self._cached: tuple[tuple, dict] | None = None

    def collect(self):
        cost = CounterMetricFamily("costplane_cost_usd", "Cumulative cost by team and workload since the "
                                   "store's first data (USD).", labels=["team", "workload"])
        for (team, workload), usd in sorted(self.cumulative_cost(self.clock.now_s()).items()):
            cost.add_metric([team, workload], usd)
        yield cost
        decisions = CounterMetricFamily("costplane_decisions", "Controller decisions stored.",
                                        labels=["team", "kind"])
        actuations = CounterMetricFamily("costplane_actuations", "Controller decisions acted on.",
                                         labels=["team", "actuator"])
        with self.store.session() as s:
            for team, kind, n in s.execute(select(DecisionRow.team, DecisionRow.kind, func.count())
                                           .group_by(DecisionRow.team, DecisionRow.kind)):
                decisions.add_metric([team or "", kind or ""], float(n))
            for team, actuator, n in s.execute(select(DecisionRow.team, DecisionRow.actuator, func.count())
                                               .where(DecisionRow.actuated_at_s.is_not(None))
                                               .group_by(DecisionRow.team, DecisionRow.actuator)):
                actuations.add_metric([team or "", actuator or ""], float(n))
        yield from (decisions, actuations)

    def cumulative_cost(self, now_s: float) -> dict[tuple[str, str], float]:
        """USD by (team, workload) from the first bill line or GPU sample to the current whole minute."""
        from costplane.api._analytics import COST_END_ROUND_S, data_version
        from costplane.api._deps import pricing_inputs
        from costplane.attribute import CostKind, Window
        from costplane.costing import load_costs
        from costplane.store import CostRecord

        end_s = float(int(now_s // COST_END_ROUND_S) * COST_END_ROUND_S)
        key = (end_s, data_version(self.store))
        if self._cached is not None and self._cached[0] == key:
            return self._cached[1]
        with self.store.session() as s:
            firsts = [s.scalar(select(func.min(CostRecord.period_start_s))),
                      s.scalar(select(func.min(UsageSample.ts_s)).where(UsageSample.metric.in_(UTIL_METRICS)))]
        firsts = [float(f) for f in firsts if f is not None]
        totals: dict[tuple[str, str], float] = {}
        if firsts and end_s > min(firsts):
            start_s = min(firsts)
            catalog, nodes = pricing_inputs(self.settings)
            costs = load_costs(self.store, catalog, start_s, end_s, nodes=nodes)
            for row in costs.cost_set(Window(start_s, end_s)).rows:
                if row.kind is CostKind.ALLOCATED:
                    k = (row.label("team") or _core.UNALLOCATED, row.label("workload") or _core.UNALLOCATED)
                elif row.kind is CostKind.IDLE:
                    k = (_core.UNALLOCATED, _core.UNALLOCATED)
                else:
                    continue
                totals[k] = totals.get(k, 0.0) + row.cost_micro_usd / 1e6
        self._cached = (key, totals)
        return totals


def new_registry(store: Store, clock: Clock, settings: Settings) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store, clock, settings))
    registry.register(CounterCollector(store, clock, settings))
    return registry
