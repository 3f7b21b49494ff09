"""The predictive and hybrid policies' headline on the public traces, at their defaults (a fast guard of BENCHMARKS.md).

The benchmark measures against the 60 s MILP oracle; here the bound is the tick LP (0.2 s), which is
0.88-0.99 of that oracle on these pairs, so "within 1.3x the LP" is the bar's 1.15x seen through the
loosest of them (the benchmark measures 1.04-1.14x of the oracle).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from costplane.autoscale import DEFAULT_POLICY, AutoscaleConfig, read_service_spec
from costplane.replay.inference import initial_replicas, replay_inference
from costplane.replay.oracle import milp_nodes, oracle
from costplane.traces import gpu_use_series, load_trace

ROOT = Path(__file__).resolve().parents[1]
TRACE_FILES = {"azure-conv": "azure-llm-2023/AzureLLMInferenceTrace_conv.csv",
               "mooncake": "mooncake-2025/conversation_trace.jsonl"}


@pytest.mark.parametrize("trace", sorted(TRACE_FILES))
@pytest.mark.parametrize("spec_path", ["examples/chat-service.yaml", "bench/chat-service-variant.yaml"])
@pytest.mark.parametrize("policy", ["predictive", "hybrid"])
def test_forecasting_policies_serve_the_public_traces_near_the_bound_and_well_below_hpa(
        traces_dir, shared_dir, trace, spec_path, policy):
    spec = read_service_spec(shared_dir / spec_path if spec_path.startswith("examples") else ROOT / spec_path)
    series = load_trace(traces_dir / TRACE_FILES[trace])
    cfg = AutoscaleConfig(service=spec)
    with milp_nodes(0):
        bound = oracle(series.counts, spec, series.step_s, initial_replicas(series, spec, 15.0), 15.0)
    runs = {name: replay_inference(series, spec, name, 1.0, cfg, oracle_result=bound)
            for name in (policy, "hpa", "static-peak")}
    pred = runs[policy]
    assert pred.demand_served_fraction >= 0.999
    assert pred.cost_usd <= 1.3 * pred.oracle_cost_usd
    assert pred.cost_usd <= 0.8 * runs["hpa"].cost_usd  # at the same (full) service level
    assert runs["hpa"].demand_served_fraction >= 0.999
    assert pred.cost_usd <= 0.7 * runs["static-peak"].cost_usd


@pytest.mark.parametrize("trace", sorted(TRACE_FILES))
@pytest.mark.parametrize("spec_name", ["replay-bursty", "replay-gateway"])
@pytest.mark.parametrize("policy", sorted({DEFAULT_POLICY, "slo", "hybrid"}))
def test_default_and_slo_meet_the_issue_17_bar_on_the_smooth_traces(traces_dir, trace, spec_name, policy):
    """The bar where every causal policy reaches the SLO (BENCHMARKS.md LOTO table): >= 99.9 % served,
    for less than hpa and knative at their (full) service level."""
    spec = replace(read_service_spec(ROOT / "bench" / f"{spec_name}.yaml"), max_replicas=256)
    series = load_trace(traces_dir / TRACE_FILES[trace])
    cfg = AutoscaleConfig(service=spec)
    with milp_nodes(0):  # the bound is not what is compared here; the LP is cheap and deterministic
        bound = oracle(series.counts, spec, series.step_s, initial_replicas(series, spec, 15.0), 15.0)
    runs = {name: replay_inference(series, spec, name, 1.0, cfg, oracle_result=bound)
            for name in (policy, "hpa", "knative")}
    mine = runs[policy]
    assert mine.demand_served_fraction >= 0.999
    for rival in ("hpa", "knative"):
        assert runs[rival].demand_served_fraction >= 0.999
        assert mine.cost_usd < runs[rival].cost_usd


def _bursty_pair(traces_dir, shared_dir, trace: str, spec_name: str, policies: tuple[str, ...]) -> dict:
    spec_path = (ROOT / "bench" / f"{spec_name}.yaml" if spec_name.startswith("replay-")
                 else shared_dir / "examples" / f"{spec_name}.yaml")
    spec = replace(read_service_spec(spec_path), max_replicas=256)
    if trace == "genai-gpu":
        series = gpu_use_series(traces_dir / "alibaba-genai-2026-usage/pod_gpu_duty_cycle_anon.csv", 15.0)
    else:
        series = load_trace(traces_dir / "azure-llm-2023/AzureLLMInferenceTrace_code.csv")
    cfg = AutoscaleConfig(service=spec)
    return {name: replay_inference(series, spec, name, 1.0, cfg, with_oracle=False) for name in policies}


@pytest.mark.parametrize("spec_name", ["chat-service", "replay-bursty", "replay-gateway"])
def test_default_serves_at_least_hpa_and_knative_where_no_policy_keeps_the_slo(traces_dir, shared_dir, spec_name):
    """Azure code 2023: bursts larger than anything before them; no causal policy serves 99.9 % (BENCHMARKS.md).
    The bar there: the default serves at least as much as the better of HPA and Knative (hybrid served 35-82 %)."""
    runs = _bursty_pair(traces_dir, shared_dir, "azure-code", spec_name, (DEFAULT_POLICY, "hpa", "knative"))
    best = max(runs["hpa"].demand_served_fraction, runs["knative"].demand_served_fraction)
    assert runs[DEFAULT_POLICY].demand_served_fraction >= best - 1e-12


def test_default_keeps_the_slo_for_less_than_hpa_on_the_gpu_use_series(traces_dir, shared_dir):
    """Alibaba GenAI GPU use, gateway spec: step-like demand; the budget guard's peak hold keeps 99.9 %."""
    runs = _bursty_pair(traces_dir, shared_dir, "genai-gpu", "replay-gateway", (DEFAULT_POLICY, "hpa", "hybrid"))
    assert runs["hybrid"].demand_served_fraction < 0.999          # the forecast alone misses it
    assert runs[DEFAULT_POLICY].demand_served_fraction >= 0.999
    assert runs["hpa"].demand_served_fraction >= 0.999
    assert runs[DEFAULT_POLICY].cost_usd < 0.9 * runs["hpa"].cost_usd
