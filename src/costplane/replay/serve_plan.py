"""Serve-plan's replays: every candidate of a profile through `replay_inference` with the default policy.

The adapter side of `costplane.serveplan` (which is pure): the same entry point, policy, decision
interval and default oracle as `costplane replay --json`, so an on-demand row equals that command's output
for the candidate's spec. One replay per candidate; its purchases (on demand, spot, mixed) are priced
from that one schedule, since no policy reads prices.

Speed: a replay takes a fraction of a second; replay's default oracle adds an integer program per
candidate (seconds to minutes). Serve-plan's `cost_ratio_to_oracle` therefore uses the LP bound by
default (still a valid lower bound, the ratio at most slightly higher); `tight_oracle=True` runs
replay's default oracle. Cost and served share never depend on the oracle.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from costplane.autoscale import DEFAULT_POLICY, AutoscaleConfig
from costplane.autoscale._decision import DECISION_INTERVAL_S
from costplane.core.types import Catalog
from costplane.replay import oracle as oracle_mod
from costplane.replay.inference import replay_inference
from costplane.serveplan import ReplayOutcome, ServePlan, ServePlanProfile, plan_from_replays, prepare
from costplane.traces import DemandSeries


def _lp_oracle() -> AbstractContextManager:
    """Replay's oracle with no integer-program nodes: the LP bound (`replay --oracle-milp-nodes 0`)."""
    return oracle_mod.milp_nodes(0)


def run_serve_plan(profile: ServePlanProfile, series: DemandSeries, catalog: Catalog, *,
                   decision_interval_s: float = DECISION_INTERVAL_S, tight_oracle: bool = False,
                   on_done: Callable[[str], None] | None = None) -> ServePlan:
    """Replay each candidate that fits and has an offer; price and rank every option."""
    setups = prepare(profile, catalog)
    outcomes: dict[int, ReplayOutcome] = {}
    warnings: list[str] = list(series.warnings)
    with nullcontext() if tight_oracle else _lp_oracle():
        for s in setups:
            if s.spec is None:
                continue
            cfg = AutoscaleConfig(service=s.spec, decision_interval_s=decision_interval_s)
            result = replay_inference(series, s.spec, DEFAULT_POLICY, s.replay_price, cfg,
                                      price_source=s.price_source)
            outcomes[s.index] = ReplayOutcome(result.to_dict(), result.up_replicas, series.step_s)
            warnings.extend(f"{s.candidate.label}: {w}" for w in result.warnings if w not in series.warnings)
            if on_done is not None:
                on_done(s.candidate.label)
    return plan_from_replays(profile, setups, outcomes, tuple(warnings))
