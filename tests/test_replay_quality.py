"""The predictive policy's headline on the public traces, at its defaults (a fast guard of BENCHMARKS.md).

The benchmark measures against the 60 s MILP oracle; here the bound is the tick LP (0.2 s), which is
at most that oracle, so "within 1.25x the LP" is looser than the benchmark's 1.10-1.14x of the oracle.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from costplane.autoscale import AutoscaleConfig, read_service_spec
from costplane.replay.inference import initial_replicas, replay_inference
from costplane.replay.oracle import milp_seconds, oracle
from costplane.traces import load_trace

ROOT = Path(__file__).resolve().parents[1]
TRACE_FILES = {"azure-conv": "azure-llm-2023/AzureLLMInferenceTrace_conv.csv",
               "mooncake": "mooncake-2025/conversation_trace.jsonl"}


@pytest.mark.parametrize("trace", sorted(TRACE_FILES))
@pytest.mark.parametrize("spec_path", ["examples/chat-service.yaml", "bench/chat-service-variant.yaml"])
def test_predictive_serves_the_public_traces_near_the_bound_and_well_below_hpa(traces_dir, shared_dir, trace,
                                                                                spec_path):
    spec = read_service_spec(shared_dir / spec_path if spec_path.startswith("examples") else ROOT / spec_path)
    series = load_trace(traces_dir / TRACE_FILES[trace])
    cfg = AutoscaleConfig(service=spec)
    with milp_seconds(0):
        bound = oracle(series.counts, spec, series.step_s, initial_replicas(series, spec, 15.0), 15.0)
    runs = {name: replay_inference(series, spec, name, 1.0, cfg, oracle_result=bound)
            for name in ("predictive", "hpa", "static-peak")}
    pred = runs["predictive"]
    assert pred.demand_served_fraction >= 0.999
    assert pred.cost_usd <= 1.25 * pred.oracle_cost_usd
    assert pred.cost_usd <= 0.8 * runs["hpa"].cost_usd  # at the same (full) service level
    assert runs["hpa"].demand_served_fraction >= 0.999
    assert pred.cost_usd <= 0.7 * runs["static-peak"].cost_usd
