"""The oracle is a lower bound: exact on small cases, and never above a policy that serves all demand."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costplane.autoscale import POLICIES, AutoscaleConfig, Decision, ServiceSpec
from costplane.replay.inference import initial_replicas, replay_inference
from costplane.replay.oracle import _solve_window, closed_form, layer_cost, lp_bound, milp_limits, milp_nodes, oracle
from costplane.traces import DemandSeries

SPEC = ServiceSpec("s", "H100", 1, 1.0, 3.0, 0, 4, True, 0.0)


def test_layer_cost_worked_example_from_the_docstring():
    mask = np.zeros(8, dtype=bool)
    mask[[3, 4, 6]] = True
    assert layer_cost(mask, 2, initially_up=True) == 2 + 1 + 1 + 2  # lead min(3,2), gap min(1,2)
    assert layer_cost(mask, 2, initially_up=False) == 2 + 1 + 1 + 2
    assert layer_cost(mask, 5, initially_up=True) == 3 + 1 + 3  # lead 3 < 5: keep the initial replica


def test_closed_form_by_hand():
    counts = np.array([1, 1, 0, 0, 0, 0, 0, 0, 2, 2, 1, 0], dtype=float)
    # layer 1: runs [0,2) and [8,11), gap 6 -> min(6,3)=3, initially up from 0: 2 + 3 + 3 = 8
    # layer 2: run [8,10), not initially up: 2 + cold start 3 = 5
    r = closed_form(counts, SPEC, 1.0, initial_replicas=1)
    assert r.replica_steps == 13 and r.method == "closed-form"


def _tiny_trace(draw_counts, cold, queue, scale_to_zero, min_replicas):
    spec = replace(SPEC, cold_start_s=float(cold), max_queue_s=float(queue), scale_to_zero=scale_to_zero,
                   min_replicas=min_replicas)
    return np.asarray(draw_counts, dtype=float), spec


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=4, max_size=14), st.integers(0, 3), st.booleans(), st.integers(0, 2))
def test_closed_form_equals_the_integer_program_without_queue(counts, cold, stz, min_r):
    counts, spec = _tiny_trace(counts, cold, 0, stz, min_r)
    n0 = initial_replicas(DemandSeries(0.0, 1.0, counts), spec, 1.0)
    floor = 0 if spec.scale_to_zero else spec.floor_replicas
    exact = _solve_window(counts, spec, 1.0, cold, 0, n0, floor, integer=milp_limits(10_000))[0]
    relaxed = _solve_window(counts, spec, 1.0, cold, 0, n0, floor)[0]
    cf = closed_form(counts, spec, 1.0, n0).replica_steps
    assert cf == pytest.approx(exact, abs=1e-6)
    assert relaxed <= cf + 1e-6


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=4, max_size=16), st.integers(0, 4), st.integers(2, 4), st.booleans())
def test_closed_form_on_decision_ticks_equals_the_integer_program(counts, cold, every, stz):
    counts, spec = _tiny_trace(counts, cold, 0, stz, 0)
    n0 = initial_replicas(DemandSeries(0.0, 1.0, counts), spec, float(every))
    floor = 0 if spec.scale_to_zero else spec.floor_replicas
    exact = _solve_window(counts, spec, 1.0, cold, 0, n0, floor, integer=milp_limits(10_000), every=every)[0]
    cf = closed_form(counts, spec, 1.0, n0, decision_interval_s=float(every)).replica_steps
    per_step = closed_form(counts, spec, 1.0, n0).replica_steps
    assert cf == pytest.approx(exact, abs=1e-6)
    assert cf >= per_step  # fewer moments to act can only cost more


def test_layer_cost_on_ticks_by_hand():
    mask = np.zeros(20, dtype=bool)
    mask[[9, 10]] = True  # needed on [9, 11); cold start 3, decisions every 5 steps
    # start on the tick at or before 9 - 3 = 6 -> 5; stop on the tick at or after 11 -> 15: 10 steps
    assert layer_cost(mask, 3, initially_up=False, every=5) == 10
    mask[[16]] = True  # [16, 17): start at tick 10 (<= 13) overlaps [5, 15): keep through, stop at 20
    assert layer_cost(mask, 3, initially_up=False, every=5) == 15
    assert layer_cost(mask, 3, initially_up=False, every=1) == 2 + 3 + 1 + 3  # per step: restart for run 2


def test_initial_fleet_covers_the_service_window_rate_not_each_second():
    counts = np.array([10, 0, 0, 0, 0, 10, 0, 0, 0, 0] * 3, dtype=float)  # bursts of 10 every 5 s: 2/s on average
    spec = ServiceSpec("s", "H100", 1, 1.0, 5.0, 0, 20, True, 9.0)
    assert initial_replicas(DemandSeries(0.0, 1.0, counts), spec, 5.0) == 2  # 20 units per 10-s window
    assert initial_replicas(DemandSeries(0.0, 1.0, counts), replace(spec, max_queue_s=0.0), 5.0) == 10


def _random_policy(seed):
    def decide(obs, state, cfg):
        rng = np.random.default_rng([seed, int(obs.now_s)])
        return Decision(obs.current_replicas, int(rng.integers(0, cfg.service.max_replicas + 1)), ("random",)), state
    decide.__name__ = f"random-{seed}"
    return decide


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 30), st.integers(0, 8), st.sampled_from([1.0, 2.0, 5.0]),
       st.booleans(), st.integers(0, 2), st.sampled_from(list(POLICIES) + ["random"]), st.sampled_from([1.0, 3.0]))
def test_no_policy_at_full_service_is_cheaper_than_the_oracle(seed, cold, queue, interval, stz, min_r, name, cap):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 160))
    level = rng.uniform(0, 6) * (1 + np.sin(np.arange(n) / rng.uniform(3, 30)))
    counts = rng.poisson(level * (rng.uniform(size=n) < rng.uniform(0.3, 1))).astype(float)
    spec = ServiceSpec("s", "H100", 1, cap, float(cold), min_r, 8, stz, float(queue))
    series = DemandSeries(0.0, 1.0, counts)
    cfg = AutoscaleConfig(service=spec, decision_interval_s=interval, predictive_quantile=0.99,
                          predictive_headroom=float(rng.uniform(0, 0.6)), warmup_s=float(rng.uniform(0, 30)))
    policy = _random_policy(seed) if name == "random" else POLICIES[name]
    result = replay_inference(series, spec, policy, 1.0, cfg)
    if result.unserved_units == 0:
        assert result.cost_usd >= result.oracle_cost_usd - 1e-9, (result.to_dict(), counts.tolist())


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 6), st.integers(1, 6))
def test_queue_bound_is_below_the_no_queue_bound_and_milp_tightens_it(seed, cold, queue):
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rng.uniform(0.5, 4), size=int(rng.integers(20, 60))).astype(float)
    spec = ServiceSpec("s", "H100", 1, 2.0, float(cold), 0, 8, True, float(queue))
    n0 = initial_replicas(DemandSeries(0.0, 1.0, counts), spec, 1.0)
    with milp_nodes(0):
        lp = lp_bound(counts, spec, 1.0, n0).replica_steps
    with milp_nodes(1):
        tight = lp_bound(counts, spec, 1.0, n0).replica_steps
    no_queue = closed_form(counts, replace(spec, max_queue_s=0.0), 1.0, n0).replica_steps
    assert lp <= tight + 1e-6 <= no_queue + 2e-6


def test_windowed_lp_is_still_a_lower_bound():
    rng = np.random.default_rng(0)
    counts = rng.poisson(3 + 2 * np.sin(np.arange(600) / 40)).astype(float)
    spec = ServiceSpec("s", "H100", 1, 2.0, 20.0, 0, 10, True, 5.0)
    n0 = initial_replicas(DemandSeries(0.0, 1.0, counts), spec, 15.0)
    whole = lp_bound(counts, spec, 1.0, n0).replica_steps
    windows = lp_bound(counts, spec, 1.0, n0, window_steps=100).replica_steps
    assert windows <= whole + 1e-6
    assert windows >= 0.8 * whole  # loses only the cold starts at window edges


def test_undersized_max_replicas_still_gives_a_bound():
    counts = np.array([0, 10, 10, 0, 0, 10], dtype=float)
    spec = ServiceSpec("s", "H100", 1, 1.0, 1.0, 0, 2, True, 1.0)
    r = oracle(counts, spec, 1.0, 2)
    assert r.replica_steps > 0 and r.unservable_units > 0


def test_default_oracle_is_the_milp_dual_bound_on_short_traces_and_the_lp_on_long_ones(monkeypatch):
    from costplane.replay import oracle as oracle_mod

    rng = np.random.default_rng(3)
    counts = rng.poisson(3 * (rng.uniform(size=900) < 0.4)).astype(float)  # bursty: LP is loose
    spec = ServiceSpec("s", "H100", 1, 2.0, 30.0, 0, 8, True, 5.0)
    n0 = initial_replicas(DemandSeries(0.0, 1.0, counts), spec, 15.0)
    default = oracle(counts, spec, 1.0, n0)
    with milp_nodes(0):
        lp = oracle(counts, spec, 1.0, n0)
    assert default.method == "milp-dual-bound" and lp.method == "lp"
    assert default.replica_steps >= lp.replica_steps - 1e-6
    monkeypatch.setattr(oracle_mod, "MILP_AUTO_MAX_STEPS", 100)
    assert oracle(counts, spec, 1.0, n0).method == "lp"


def test_oracle_gap_brackets_the_integer_optimum():
    rng = np.random.default_rng(5)
    counts = rng.poisson(3 * (rng.uniform(size=600) < 0.5)).astype(float)
    spec = ServiceSpec("s", "H100", 1, 2.0, 30.0, 0, 8, True, 5.0)
    n0 = initial_replicas(DemandSeries(0.0, 1.0, counts), spec, 15.0)
    with milp_nodes(100_000):
        solved = oracle(counts, spec, 1.0, n0, 15.0)
    with milp_nodes(0):
        lp = oracle(counts, spec, 1.0, n0, 15.0)
    assert solved.upper_replica_steps is not None and solved.gap is not None
    assert solved.replica_steps <= solved.upper_replica_steps + 1e-6
    assert solved.gap <= 1e-3 + 1e-9  # HiGHS closes it to its 1e-4 target on a 10-minute trace
    assert lp.gap is not None and lp.gap >= solved.gap  # the LP's rounded-up fleet is a (looser) schedule
    assert closed_form(counts, replace(spec, max_queue_s=0.0), 1.0, n0).gap == 0.0


_SAMPLE_ORACLE = """
import json
from costplane.examples import example_path
from costplane.autoscale import read_service_spec
from costplane.replay.inference import initial_replicas
from costplane.replay.oracle import oracle
from costplane.traces import load_trace
series = load_trace(example_path("azure-conv-requests-per-s.csv"))
spec = read_service_spec(example_path("replay-service.yaml"))
r = oracle(series.counts, spec, series.step_s, initial_replicas(series, spec, 15.0), 15.0)
print(json.dumps([r.method, r.replica_steps.hex(), r.upper_replica_steps.hex(), r.gap.hex()]))
"""


def test_default_oracle_is_bit_identical_run_to_run_and_in_a_fresh_process():
    """The default bound (root MILP, node-limited, one thread, fixed seed) never depends on the clock."""
    import json
    import subprocess
    import sys

    from costplane.autoscale import read_service_spec
    from costplane.examples import example_path
    from costplane.traces import load_trace

    series = load_trace(example_path("azure-conv-requests-per-s.csv"))
    spec = read_service_spec(example_path("replay-service.yaml"))
    n0 = initial_replicas(series, spec, 15.0)
    first = oracle(series.counts, spec, series.step_s, n0, 15.0)
    second = oracle(series.counts, spec, series.step_s, n0, 15.0)
    assert first == second
    assert first.method == "milp-dual-bound"
    assert (first.replica_steps, first.upper_replica_steps) == (10870.0, 11430.0)
    with milp_nodes(0):
        lp = oracle(series.counts, spec, series.step_s, n0, 15.0)
    assert lp.method == "lp" and lp.replica_steps < first.replica_steps  # the root's cuts tighten the LP
    p = subprocess.run([sys.executable, "-c", _SAMPLE_ORACLE], capture_output=True, text=True, check=True)
    assert json.loads(p.stdout) == [first.method, first.replica_steps.hex(), first.upper_replica_steps.hex(),
                                    first.gap.hex()]
