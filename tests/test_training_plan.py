"""Training plan: equals a brute force over every catalog offer x purchase x node count; frontier; deadline."""

from __future__ import annotations

import math
from functools import lru_cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costplane.catalog import load_catalog
from costplane.core.errors import InfeasibleError
from costplane.training import (
    JobProfile,
    ThroughputPoint,
    fit_curve,
    interruptions_per_hour,
    pareto_frontier,
    plan_training,
)

MODELS = ["H100", "A100-80GB", "A100", "L40S", "L4", "A10G", "T4", "V100"]


@lru_cache(maxsize=1)
def catalog():
    return load_catalog()


@lru_cache(maxsize=1)
def offers_by_model():
    out: dict[str, list] = {}
    for o in catalog().offers:  # grouping only: every offer of the model is still tried
        out.setdefault(o.gpu, []).append(o)
    return out


def brute_force_min_cost(profile: JobProfile, deadline_s: float | None) -> float | None:
    """Scalar, unpruned: every offer, both purchases, every node count the curve may use."""
    by_model: dict[str, list[tuple[int, float]]] = {}
    for p in profile.throughput:
        by_model.setdefault(p.gpu, []).append((p.gpus, p.units_per_s))
    best = None
    for model, pts in by_model.items():
        if len({n for n, _ in pts}) < 2:
            continue
        curve = fit_curve(model, [n for n, _ in pts], [t for _, t in pts])
        lo, hi = curve.allowed_range
        for o in offers_by_model().get(model, ()):
            if o.gpu_memory_gib < profile.memory_gib_per_gpu or o.gpus < profile.min_gpus_per_node:
                continue
            for spot in (False, True):
                price = o.price(spot)
                if price is None or not price > 0:
                    continue
                rate = interruptions_per_hour(o.cloud, o.region, o.instance_type, profile.interruption_rates) if spot else 0
                for k in range(1, hi // o.gpus + 1):
                    n = k * o.gpus
                    if n < lo or (profile.max_nodes and k > profile.max_nodes):
                        continue
                    w = profile.work / float(curve.units_per_s(n)[0])
                    lam = k * rate / 3600
                    c = w if profile.checkpoint_interval_s is None else min(profile.checkpoint_interval_s, w)

                    def seg(x):
                        if lam * x > 700:  # never finishes in any useful sense
                            return math.inf
                        return x if lam == 0 else (1 / lam + profile.restore_s) * math.expm1(lam * x)

                    full = math.floor(w / c)
                    wall = full * seg(c) + seg(w - full * c)
                    if math.isinf(wall) or (deadline_s is not None and wall > deadline_s):
                        continue
                    cost = k * price * wall / 3600
                    best = cost if best is None else min(best, cost)
    return best


@st.composite
def profiles(draw):
    models = draw(st.lists(st.sampled_from(MODELS), min_size=1, max_size=3, unique=True))
    points = []
    for m in models:
        counts = draw(st.lists(st.sampled_from([1, 2, 4, 8, 16]), min_size=2, max_size=3, unique=True))
        base = draw(st.floats(100, 50000))
        eff = draw(st.floats(0.5, 1.0))
        points += [ThroughputPoint(m, n, base * n * eff ** math.log2(n)) for n in counts]
    return JobProfile(
        name="random", work=draw(st.floats(1e6, 1e10)), memory_gib_per_gpu=draw(st.floats(4, 90)),
        throughput=tuple(points),
        checkpoint_interval_s=draw(st.one_of(st.none(), st.floats(60, 7200))),
        restore_s=draw(st.floats(0, 900)),
        interruption_rates=draw(st.sampled_from([{}, {"aws": 0.5}, {"default": 0.02, "gcp": 1.0}])),
        min_gpus_per_node=draw(st.sampled_from([1, 1, 4])),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profile=profiles(), deadline_h=st.one_of(st.none(), st.floats(0.5, 500)))
def test_plan_equals_brute_force(profile, deadline_h):
    deadline_s = None if deadline_h is None else deadline_h * 3600
    expected = brute_force_min_cost(profile, deadline_s)
    try:
        plan = plan_training(profile, catalog(), deadline_s)
    except InfeasibleError:
        assert expected is None
        return
    assert expected is not None
    assert plan.choice.expected_cost_usd == pytest.approx(expected, rel=1e-9)
    if deadline_s is not None:
        assert plan.choice.expected_hours * 3600 <= deadline_s
    c = plan.choice
    assert c.gpus == c.nodes * c.gpus_per_node


def contract_profile(**kw) -> JobProfile:
    base = dict(name="llama-8b-finetune", work=2.0e9, memory_gib_per_gpu=60,
                throughput=(ThroughputPoint("H100", 8, 41000), ThroughputPoint("H100", 16, 78000),
                            ThroughputPoint("A100-80GB", 8, 17500)),
                checkpoint_interval_s=1800, restore_s=300)
    return JobProfile(**{**base, **kw})


def test_frontier_is_pareto_and_sorted_and_contains_the_choice_without_deadline():
    plan = plan_training(contract_profile(), catalog())
    hours = [o.expected_hours for o in plan.frontier]
    costs = [o.expected_cost_usd for o in plan.frontier]
    assert hours == sorted(hours)
    assert all(c2 < c1 for c1, c2 in zip(costs, costs[1:]))  # strictly cheaper as it gets slower
    assert plan.frontier[-1].expected_cost_usd == plan.choice.expected_cost_usd
    assert "A100-80GB" not in {o.gpu for o in plan.frontier}  # one point only: skipped
    assert any("A100-80GB" in w for w in plan.warnings)


def test_tighter_deadline_costs_more_and_is_met():
    loose = plan_training(contract_profile(), catalog(), 100 * 3600)
    tight = plan_training(contract_profile(), catalog(), 6 * 3600)
    assert tight.choice.expected_hours <= 6
    assert tight.choice.expected_cost_usd >= loose.choice.expected_cost_usd
    assert tight.choice.gpus > loose.choice.gpus


def test_impossible_deadline_names_the_fastest_option():
    with pytest.raises(InfeasibleError, match=r"fastest is 32 x H100 .* at \d+\.\d\d h"):
        plan_training(contract_profile(), catalog(), 60)


def test_spot_is_avoided_when_interruptions_are_frequent():
    calm = plan_training(contract_profile(), catalog())
    stormy = plan_training(contract_profile(interruption_rates={"default": 50.0}, min_gpus_per_node=8), catalog())
    assert calm.choice.spot
    assert not stormy.choice.spot


def test_pareto_frontier_drops_dominated_options():
    plan = plan_training(contract_profile(), catalog())
    from costplane.training import enumerate_options

    opts = enumerate_options(contract_profile(), catalog(), plan.curves)
    front = pareto_frontier(opts)
    for o in opts:
        assert not any(f.expected_hours < o.expected_hours and f.expected_cost_usd < o.expected_cost_usd
                       for f in front if f is not o) or o not in front
    for f in front:
        assert not any(o.expected_hours <= f.expected_hours and o.expected_cost_usd < f.expected_cost_usd
                       for o in opts)
