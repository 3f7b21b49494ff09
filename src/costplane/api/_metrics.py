"""Prometheus metrics on a per-app CollectorRegistry (no process globals): read from the store at scrape.

Gauges (all names `costplane_*`, money in USD, rates per hour as the Prometheus convention for cost
dashboards, ratios 0..1):
  costplane_cost_usd_per_hour{team,workload}      average over the last `rate_window_s` of cost lines
  costplane_idle_cost_usd_per_hour{team}          lines no workload claimed, plus the unused share
                                                  (1 - utilisation) of each workload's cost
  costplane_gpu_utilisation_ratio{workload}       mean GPU utilisation over the same window
  costplane_replicas_desired{target,team}         the controller's newest decision per target
  costplane_replicas_actual{target,team}          the replicas it observed then
  costplane_demand_forecast{target,team} / costplane_demand_actual{target,team}
  costplane_budget_spent_usd / _amount_usd / _burn_ratio{budget,team,period}
plus request counters and latency histograms of the service itself.
"""

from __future__ import annotations

import time
from collections import defaultdict

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from costplane.api import _core
from costplane.api._core import UNALLOCATED
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
        rates = _core.cost_rate_usd_per_hour(self.store, now_s, self.settings.rate_window_s)
        util = self._latest_utilisation(now_s)
        yield from self._cost(rates, util)
        yield from self._utilisation(util)
        yield from self._decisions(now_s)
        yield from self._budgets(now_s)

    def _cost(self, rates, util):
        cost = GaugeMetricFamily("costplane_cost_usd_per_hour", "Cost rate by team and workload (USD per hour).",
                                 labels=["team", "workload"])
        idle_by_team: dict[str, float] = defaultdict(float)
        for (team, workload), rate in sorted(rates.items()):
            cost.add_metric([team, workload], rate)
            if workload == UNALLOCATED:  # a line no workload claimed (a node's idle capacity) is idle whole
                idle_by_team[team] += rate
            elif workload in util:  # else idle = the paid share the GPU did not use
                idle_by_team[team] += rate * (1.0 - min(max(util[workload], 0.0), 1.0))
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
        spent = GaugeMetricFamily("costplane_budget_spent_usd", "Spend in the budget's current period (USD).",
                                  labels=["budget", "team", "period"])
        amount = GaugeMetricFamily("costplane_budget_amount_usd", "Budget amount per period (USD).",
                                   labels=["budget", "team", "period"])
        burn = GaugeMetricFamily("costplane_budget_burn_ratio", "spent / amount in the current period.",
                                 labels=["budget", "team", "period"])
        with self.store.session() as s:
            for budget in s.scalars(select(Budget).order_by(Budget.id)):
                b = _core.budget_public(s, budget, now_s)
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


def new_registry(store: Store, clock: Clock, settings: Settings) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store, clock, settings))
    return registry
