"""Core functions of the optional routes: cost allocation and waste from the store, forecasts, replays.

Each wraps one domain package (costplane.attribute, .waste, .forecast, .replay) and is imported
only when that package exists. Cost allocation and waste read the store through the one cost path
(costplane.costing), the same function `costplane cost`, budgets and reports use, so the API and
the CLI agree to the cent on the same store.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
from sqlalchemy import func, select

from costplane.core.errors import InputError
from costplane.core.types import Catalog
from costplane.store import CostRecord, Store, UsageSample

VERSION_TTL_S = 1.0  # new rows show in cached answers within a second
COST_END_ROUND_S = 60.0  # cost windows end at the current whole minute (so answers can be cached a minute)
MAX_REPLAY_STEPS = 20_000
_compare_lock = threading.Lock()


def cost_allocation(store: Store, start_s: float, end_s: float, by: str, team: str | None,
                    catalog: Catalog | None = None, nodes=None) -> dict[str, Any]:
    """The contract's `costplane cost` JSON over [start, end) from the one cost path (team-scoped)."""
    from costplane.attribute import GROUP_BYS, Window
    from costplane.catalog import load_catalog
    from costplane.costing import cost_view, load_costs

    if by not in GROUP_BYS:
        raise InputError(f"by={by!r} is not one of {', '.join(GROUP_BYS)}", fix="use by=team")
    costs = load_costs(store, catalog or load_catalog(), start_s, end_s, nodes=nodes)
    out = cost_view(costs, Window(start_s, end_s), by, team=team)
    out["window"] = {"start": start_s, "end": end_s}
    return out


class ResultCache:
    """Results of read-only queries keyed by their arguments and the store's data version (bounded, thread-safe).

    The version is the newest row id of the tables a result reads: any insert changes it, so a cached
    answer misses new data for at most VERSION_TTL_S. Keys also carry the window end rounded to the minute by the caller,
    so a dashboard polling every few seconds costs one computation a minute, and a deletion shows
    within that minute.
    """

    def __init__(self, max_entries: int = 256) -> None:
        self._data: dict = {}
        self._lock = threading.Lock()
        self._compute_lock = threading.Lock()
        self._version: tuple | None = None
        self.max_entries = max_entries

    def version(self, store: Store) -> tuple:
        """`data_version`, read at most once per VERSION_TTL_S (monotonic): keeps the hot path off the database."""
        now = time.monotonic()
        with self._lock:
            if self._version is not None and self._version[1] > now:
                return self._version[0]
        version = data_version(store)
        with self._lock:
            self._version = (version, now + VERSION_TTL_S)
        return version

    def get_or_compute(self, key, compute):
        with self._lock:
            if key in self._data:
                return self._data[key]
        # Single flight: requests arriving while a result is computed wait for it instead of
        # computing it again (a cold minute under 500 req/s would otherwise start hundreds at once).
        with self._compute_lock:
            with self._lock:
                if key in self._data:
                    return self._data[key]
            value = compute()
            with self._lock:
                if len(self._data) >= self.max_entries:
                    self._data.pop(next(iter(self._data)))  # oldest first: dicts keep insertion order
                self._data[key] = value
            return value


def data_version(store: Store) -> tuple:
    """Newest row id of the tables a cached result reads: O(1) on the primary key, unlike count(*)."""
    with store.engine.connect() as conn:
        return tuple(conn.execute(select(func.max(m.id))).scalar() for m in (CostRecord, UsageSample))


def cost_allocation_cached(cache: ResultCache, store: Store, now_s: float, window_s: float, by: str,
                           team: str | None, catalog: Catalog | None = None, nodes=None) -> dict[str, Any]:
    """`cost_allocation` over the window ending at the current whole minute, cached per data version."""
    end_s = float(np.floor(now_s / COST_END_ROUND_S) * COST_END_ROUND_S)
    key = ("cost", end_s, window_s, by, team, id(catalog), cache.version(store))
    return cache.get_or_compute(key, lambda: cost_allocation(store, end_s - window_s, end_s, by, team, catalog,
                                                             nodes))


def waste_findings(store: Store, catalog: Catalog, start_s: float, end_s: float, team: str | None,
                   gpu: str | None, price: float | None, gpus_per_workload: int, idle_below_pct: float,
                   nodes=None) -> dict:
    """`costplane waste` JSON on the stored GPU series of the window (team-scoped), each workload priced by
    the one cost path (what its bill lines paid, or its nodes' catalog price) unless `price` is given."""
    from costplane.attribute import Window
    from costplane.costing import load_costs, store_waste

    if gpu:
        from costplane.core.gpus import resolve_gpu

        gpu = resolve_gpu(gpu, catalog.gpu_models)
    window = Window(start_s, end_s)
    costs = load_costs(store, catalog, start_s, end_s, nodes=nodes, gpu=gpu, price_usd_per_gpu_hour=price)
    return store_waste(store, costs, catalog, window, team=team, price_usd_per_gpu_hour=price, gpu=gpu,
                       idle_below_pct=idle_below_pct)


def forecast_series(values: list[float], horizon: int, model: str, season: int, level: list[float]) -> dict:
    from costplane.forecast import get_model

    fc = get_model(model, season=season).forecast(np.asarray(values, dtype=float), h=horizon, level=tuple(level))
    return {"model": fc.model or model, "horizon": horizon, "season": season, "mean": fc.mean.tolist(),
            "lo": {str(k): v.tolist() for k, v in fc.lo.items()}, "hi": {str(k): v.tolist() for k, v in fc.hi.items()}}


def backtest_series(series: dict[str, list[float]], horizon: int, windows: int, model: str, season: int) -> dict:
    from costplane.forecast import backtest

    names = list(series)
    result = backtest([np.asarray(series[n], dtype=float) for n in names], horizon, windows, model, season)
    scored = {n for i, n in enumerate(names) if i not in {k for k, _ in result.skipped}}
    clean = lambda x: None if not np.isfinite(x) else round(float(x), 6)
    return {"model": model, "series": len(scored), "horizon": horizon, "windows": windows,
            "mase": clean(result.mase), "smape": clean(result.smape),
            "skipped": [{"series": names[i], "reason": why} for i, why in result.skipped]}


def _replica_price(spec, catalog: Catalog) -> tuple[float, str]:
    from costplane.replay.inference import replica_price

    return replica_price(spec, catalog)


def _public(result) -> dict:
    d = result.to_dict()
    ratio = d.get("cost_ratio_to_oracle")
    if ratio is not None and not np.isfinite(ratio):
        d["cost_ratio_to_oracle"] = None
    return {k: v for k, v in d.items() if k not in ("service", "trace")}


def replay_one(counts: list[float], step_s: float, service: dict, policy: str, catalog: Catalog,
               decision_interval_s: float) -> dict:
    from costplane.autoscale import POLICIES, AutoscaleConfig, parse_service_spec
    from costplane.replay.inference import replay_inference
    from costplane.traces import DemandSeries

    if policy not in POLICIES:
        raise InputError(f"unknown policy {policy!r}", fix=f"use one of {', '.join(POLICIES)}")
    spec = parse_service_spec(service, "service")
    price, _ = _replica_price(spec, catalog)
    series = DemandSeries(0.0, step_s, np.asarray(counts, dtype=float), source="request body")
    cfg = AutoscaleConfig(service=spec, decision_interval_s=decision_interval_s)
    return _public(replay_inference(series, spec, policy, price, cfg))


def compare_bundled(state: Any, catalog: Catalog) -> dict:
    """Every policy on the bundled trace and service, computed once per app (it is deterministic)."""
    with _compare_lock:
        cached = getattr(state, "replay_compare", None)
        if cached is not None:
            return cached
        from costplane.autoscale import AutoscaleConfig, read_service_spec
        from costplane.examples import example_path
        from costplane.replay.inference_compare import compare_policies
        from costplane.traces import load_trace

        series = load_trace(example_path("azure-conv-requests-per-s.csv"), None, "requests")
        spec = read_service_spec(example_path("replay-service.yaml"))
        price, source = _replica_price(spec, catalog)
        results = [_public(r) for r in compare_policies(series, spec, price, cfg=AutoscaleConfig(service=spec),
                                                          price_source=source)]
        state.replay_compare = {"trace": "examples/azure-conv-requests-per-s.csv", "service": spec.to_dict(),
                                "price_usd_per_hour": price, "price_source": source,
                                "oracle_cost_usd": results[0]["oracle_cost_usd"], "results": results}
        return state.replay_compare
