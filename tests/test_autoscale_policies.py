"""Every policy through the same assertions (statsforecast's assert_class style), guards, and pool allocation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costplane.autoscale import (
    ALLOCATION_RULES,
    POLICIES,
    AutoscaleConfig,
    Decision,
    Observation,
    ServiceSpec,
    allocate_pool,
    guarded,
    load_policy,
    parse_service_spec,
)
from costplane.core.errors import InputError

SPEC = ServiceSpec("chat", "H100", 1, 2.0, 120.0, 1, 10, False, 10.0)
CFG = AutoscaleConfig(service=SPEC, static_replicas=6, warmup_s=0.0)


def obs(demand, now=1000.0, ready=2, starting=0, queue=0.0):
    return Observation(now, 1.0, np.asarray(demand, dtype=float), ready, starting, queue)


@pytest.mark.parametrize("name", list(POLICIES))
def test_policy_contract_bounds_determinism_and_reasons(name):
    rng = np.random.default_rng(1)
    decide = POLICIES[name]
    state = None
    for k in range(60):
        demand = rng.poisson(rng.uniform(0, 40), size=900).astype(float)
        o = obs(demand, now=1000.0 + 15 * k, ready=int(rng.integers(0, 12)), starting=int(rng.integers(0, 3)))
        d1, s1 = decide(o, state, CFG)
        d2, _ = decide(o, state, CFG)
        assert d1 == d2  # same observation and state -> same decision (no hidden clock or globals)
        assert SPEC.floor_replicas <= d1.desired_replicas <= SPEC.max_replicas
        assert d1.reasons and d1.kind == ("noop" if d1.desired_replicas == o.current_replicas else "scale")
        state = s1


def test_decision_is_a_frozen_value():
    d = Decision(3, 3, ("steady",))
    assert d.kind == "noop" and Decision(3, 5).kind == "scale"
    with pytest.raises(AttributeError):
        d.desired_replicas = 4  # type: ignore[misc]


def test_hpa_tolerance_scale_up_and_300s_stabilisation():
    hpa = POLICIES["hpa"]
    target = 0.7 * 2.0
    d, _ = hpa(obs(np.full(60, 4 * target * 1.05), ready=4), None, CFG)
    assert d.desired_replicas == 4  # within 10 % tolerance
    d, state = hpa(obs(np.full(60, 8 * target), ready=4), None, CFG)
    assert d.desired_replicas == 8  # ceil(4 * 2.0)
    d, state = hpa(obs(np.full(60, 2 * target), now=1100.0, ready=8), state, CFG)
    assert d.desired_replicas == 8  # scale-down held by the 300 s window
    d, _ = hpa(obs(np.full(60, 2 * target), now=1000.0 + 301, ready=8), state, CFG)
    assert d.desired_replicas == 2


def test_knative_panics_on_a_burst_and_holds():
    kn = POLICIES["knative"]
    calm = np.full(120, 1.0)
    burst = np.concatenate([calm, np.full(6, 12.0)])
    d, state = kn(obs(burst, ready=1), None, CFG)
    assert d.desired_replicas >= 8 and "panic" in d.reasons[0]
    d, state = kn(obs(np.concatenate([burst, np.full(15, 1.0)]), now=1015.0, ready=9), state, CFG)
    assert d.desired_replicas >= 9  # no scale-down while panicking
    d, _ = kn(obs(np.full(200, 1.0), now=1080.0, ready=9), state, CFG)
    assert d.desired_replicas < 9  # out of panic after the 60 s stable window


def test_predictive_provisions_the_high_quantile_ahead():
    rng = np.random.default_rng(3)
    demand = rng.poisson(6.0, size=900).astype(float)
    d, _ = POLICIES["predictive"](obs(demand, ready=3), None, CFG)
    # 11 s service window: mean 6/s; the 99.5 % quantile of the window rate needs 4-6 replicas of 2/s
    assert 4 <= d.desired_replicas <= 6


def test_guard_delays_in_seconds_and_scale_to_zero():
    spec = replace(SPEC, min_replicas=0, scale_to_zero=True)
    cfg = AutoscaleConfig(service=spec, downscale_delay_s=60.0, scale_to_zero_delay_s=30.0, warmup_s=0.0)

    def wants(n):
        return lambda o, s, c: (Decision(o.current_replicas, n, ("test",)), s)

    down = guarded(wants(1))
    d, st_ = down(obs(np.ones(100), now=0.0, ready=5), None, cfg)
    assert d.desired_replicas == 5
    d, st_ = down(obs(np.ones(100), now=59.0, ready=5), st_, cfg)
    assert d.desired_replicas == 5
    d, _ = down(obs(np.ones(100), now=60.0, ready=5), st_, cfg)
    assert d.desired_replicas == 1
    to_zero = guarded(wants(0))
    recent = np.concatenate([np.ones(100), np.zeros(10)])
    assert to_zero(obs(recent, ready=1), None, replace(cfg, downscale_delay_s=0))[0].desired_replicas == 1
    idle = np.concatenate([np.ones(100), np.zeros(30)])
    assert to_zero(obs(idle, ready=1), None, replace(cfg, downscale_delay_s=0))[0].desired_replicas == 0
    assert guarded(wants(99))(obs(np.ones(10)), None, cfg)[0].desired_replicas == spec.max_replicas


def test_user_policy_by_import_path_gets_the_guards():
    p = load_policy("costplane.autoscale._policies:predictive")
    d, _ = p(obs(np.full(900, 500.0)), None, CFG)
    assert d.desired_replicas == SPEC.max_replicas
    with pytest.raises(InputError):
        load_policy("nope")


def test_service_spec_validation():
    raw = {"name": "x", "gpu": "h100", "gpus_per_replica": 1, "capacity_per_replica": 2, "cold_start_s": 60,
           "min_replicas": 0, "max_replicas": 4, "scale_to_zero": True}
    spec = parse_service_spec(raw)
    assert spec.gpu == "H100" and spec.max_queue_s == 0.0 and spec.price_usd_per_hour is None
    with pytest.raises(InputError, match="min_replicas 5 > max_replicas 4"):
        parse_service_spec({**raw, "min_replicas": 5})
    with pytest.raises(InputError, match="missing `scale_to_zero`"):
        parse_service_spec({k: v for k, v in raw.items() if k != "scale_to_zero"})


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from("abcdefg"), st.integers(0, 50), min_size=1),
       st.integers(0, 120), st.sampled_from(list(ALLOCATION_RULES)),
       st.dictionaries(st.sampled_from("abcdefg"), st.floats(0, 10)))
def test_allocation_never_exceeds_capacity_or_requests(requests, capacity, rule, params):
    grants = allocate_pool(requests, capacity, rule, params)
    assert set(grants) == set(requests)
    assert sum(grants.values()) <= capacity
    assert all(0 <= grants[n] <= requests[n] for n in requests)
    if sum(requests.values()) <= capacity:
        assert grants == requests
    else:
        assert sum(grants.values()) == capacity  # work-conserving when demand exceeds the pool


def test_allocation_rules_by_example():
    req = {"chat": 6, "code": 4, "batch": 2}
    assert allocate_pool(req, 6, "proportional") == {"chat": 3, "code": 2, "batch": 1}
    assert allocate_pool(req, 6, "priority", {"code": 2, "batch": 1}) == {"chat": 0, "code": 4, "batch": 2}
    assert allocate_pool(req, 6, "greedy") == {"chat": 0, "code": 4, "batch": 2}


def test_hybrid_reacts_only_when_the_queue_cannot_drain_within_its_budget():
    steady = np.full(600, 4.0)  # 4/s at 2/s per replica: the predictive floor is 2 replicas
    floor_only, _ = POLICIES["predictive"](obs(steady, ready=2), None, CFG)
    # 2 ready replicas drain 2 x 2/s x 10 s = 40 units within the budget: a queue of 30 is noise
    calm, _ = POLICIES["hybrid"](obs(steady, ready=2, queue=30.0), None, CFG)
    assert calm.desired_replicas == floor_only.desired_replicas == 2
    # 50 queued units cannot drain in 10 s: 4/s now + 5/s of queue - 4/s of capacity = 5/s short -> +3
    risk, state = POLICIES["hybrid"](obs(steady, ready=2, queue=50.0), None, CFG)
    assert risk.desired_replicas == 5
    # the added replicas are held for one cold start even once the queue is gone
    later, _ = POLICIES["hybrid"](obs(steady, now=1100.0, ready=5, queue=0.0), state, CFG)
    assert later.desired_replicas == 5
    gone, _ = POLICIES["hybrid"](obs(steady, now=1121.0, ready=5, queue=0.0), state, CFG)
    assert gone.desired_replicas == 2


@pytest.mark.parametrize("name", list(POLICIES))
def test_policy_state_is_json_serialisable_and_round_trips(name):
    """The controller persists policy state in its store: plain JSON, and a reloaded state decides the same."""
    import json

    rng = np.random.default_rng(3)
    state = None
    for k in range(40):
        demand = rng.poisson(rng.uniform(0, 30), size=1200).astype(float)
        o = obs(demand, now=2000.0 + 15 * k, ready=int(rng.integers(0, 8)), queue=float(rng.uniform(0, 80)))
        _, state = POLICIES[name](o, state, CFG)
        reloaded = json.loads(json.dumps(state))
        nxt = obs(demand, now=2015.0 + 15 * k, ready=3, queue=10.0)
        assert POLICIES[name](nxt, state, CFG)[0] == POLICIES[name](nxt, reloaded, CFG)[0]


def test_slo_guard_escalates_when_the_budget_burns_and_holds_the_peak():
    decide = POLICIES["slo"]
    cfg = replace(CFG, slo_calibrate_half_life_s=0.0)  # the guard alone (the calibrated spares have their test)
    steady = np.full(3600, 4.0)
    calm, s_calm = decide(obs(steady, now=5000.0, ready=3), None, cfg)
    assert s_calm["inner"]["guard"]["factor"] == 1.0 and s_calm["inner"]["guard"]["hold_s"] == 0.0
    # the queue holds far more than the ready fleet drains in max_queue_s: the budget burns, the factor
    # multiplies by slo_escalate, the peak hold starts and the hybrid floor's queue correction asks for more
    hot, s_hot = decide(obs(steady, now=5000.0, ready=1, queue=400.0), None, cfg)
    # 360 units at risk of the 60 that arrived: 6 000x the 0.1 % budget rate, a severe burn
    assert s_hot["inner"]["guard"]["factor"] == pytest.approx(CFG.slo_escalate_severe)
    assert s_hot["inner"]["guard"]["hold_s"] == CFG.slo_hold_burn_s
    # 2 ready replicas serve the 4/s; 2 queued units beyond what they drain in 10 s are at risk of the 60 that
    # arrived (33x the budget rate: above slo_burn_alert, under slo_burn_severe): the mild step
    _, s_mild = decide(obs(steady, now=5000.0, ready=2, queue=42.0), None, cfg)
    assert s_mild["inner"]["guard"]["factor"] == pytest.approx(CFG.slo_escalate)
    assert hot.desired_replicas > calm.desired_replicas
    # a second burn within one cold start + fast window does not escalate again
    _, s_again = decide(obs(steady, now=5015.0, ready=1, queue=400.0), s_hot, cfg)
    assert s_again["inner"]["guard"]["factor"] == pytest.approx(CFG.slo_escalate_severe)
    # demand stops for the last 2 min, after the hybrid floor's own one-cold-start hold: the forecast falls,
    # the held peak (4/s x 1.5 = 6/s: 3 replicas of 2/s) does not, for the guard's hold
    quiet = np.concatenate([steady[:-120], np.zeros(120)])
    later, _ = decide(obs(quiet, now=5130.0, ready=3), s_hot, cfg)
    assert later.desired_replicas == 3
    unheld, _ = decide(obs(quiet, now=5130.0, ready=3), None, cfg)
    assert unheld.desired_replicas < 3


def test_slo_counts_loss_as_the_replay_does_when_the_queue_budget_is_shorter_than_a_step():
    """15 s steps, a 10 s queue budget: no step's excess can wait, so each is lost (as the replay loses it)."""
    from costplane.autoscale._slo import units_at_risk

    cfg = replace(CFG, decision_interval_s=30.0)
    o = Observation(6000.0, 15.0, np.array([50.0, 90.0, 40.0, 75.0]), 2, 0)  # 2 ready x 2/s x 15 s = 60 per step
    assert units_at_risk(o, cfg, 2) == pytest.approx(15.0)           # the last two steps: 0 + 15
    assert units_at_risk(o, cfg, 4) == pytest.approx(30.0 + 15.0)
    # 1 s steps and a 10 s budget: a 10-step queue of the fleet's capacity absorbs a short excess
    ones = Observation(6000.0, 1.0, np.array([4.0] * 5 + [12.0] * 3 + [0.0] * 7), 2, 0)   # capacity 4 per step
    assert units_at_risk(ones, cfg, 15) == 0.0                        # 24 excess fits the 40 units of queue room
    burst = Observation(6000.0, 1.0, np.array([4.0] * 5 + [40.0] * 3), 2, 0)
    assert units_at_risk(burst, cfg, 8) == pytest.approx(3 * 36.0 - 40.0)


def test_slo_counts_queued_units_once_and_credits_a_replica_with_its_elapsed_start_up():
    """A wake-up from zero (60 s cold start, 60 s queue budget, 15 s decisions): the same queued units used to
    be counted at every decision until the replica was up, as if it had just been asked for; on a four-day
    idle-night probe the guard's estimate was 15x what the replay lost."""
    from costplane.autoscale._slo import queue_excess, units_at_risk

    spec = ServiceSpec("wake", "L40S", 1, 1.0, 60.0, 0, 10, True, 60.0)
    cfg = AutoscaleConfig(service=spec, warmup_s=0.0)
    waking = Observation(6000.0, 15.0, np.array([0.0, 0.0, 30.0]), 0, 1, 30.0)
    assert queue_excess(waking, cfg) == 30.0                    # just asked for: drains nothing in time
    assert queue_excess(waking, cfg, starting_for_s=45.0) == 0.0  # up in 15 s: drains 45 units within 60 s
    assert units_at_risk(waking, cfg, 1) == 30.0                # nothing it holds is cleared within 60 s
    assert units_at_risk(waking, cfg, 1, starting_for_s=45.0) == 0.0
    backlog = Observation(6000.0, 15.0, np.array([15.0]), 1, 0, 100.0)  # 1 ready clears 60 of the 100 in time
    assert units_at_risk(backlog, cfg, 1, counted=30.0) == 10.0  # 30 of the 40 were counted last time
    decide = POLICIES["slo"]
    risks, state = [], None
    for k, queued in enumerate((15.0, 30.0, 45.0)):            # 1 unit/s arriving while the replica starts
        o = Observation(6000.0 + 15 * k, 15.0, np.array([0.0] * 40 + [15.0] * (k + 1)), 0, 1, queued)
        _, state = decide(o, state, cfg)
        risks.append(state["inner"]["guard"]["log"][-1][2])
    # first seen at 6000 s: at 6015 s 15 s of start-up have passed, at 6030 s 30 s; each unit once at most
    assert risks == [15.0, 0.0, 0.0]


def test_slo_burst_floor_is_the_hpa_rule_only_on_bursty_traffic():
    decide = POLICIES["slo"]
    cfg = replace(CFG, slo_burst_ratio=3.0)
    flat = np.full(900, 6.0)
    spiky = flat.copy()
    spiky[-300:-290] = 60.0                                            # a 10 s burst at 10x the level
    d_flat, s_flat = decide(obs(flat, now=5000.0, ready=3), None, cfg)
    d_spiky, s_spiky = decide(obs(spiky, now=5000.0, ready=3), None, cfg)
    hpa_spiky, _ = POLICIES["hpa"](obs(spiky, now=5000.0, ready=3), None, cfg)
    assert "-> hpa" not in d_flat.reasons[0] and "-> hpa" in d_spiky.reasons[0]
    assert d_spiky.desired_replicas >= hpa_spiky.desired_replicas
    calm = replace(cfg, slo_burst_ratio=100.0)                         # never bursty: no HPA floor
    assert "-> hpa" not in decide(obs(spiky, now=5000.0, ready=3), None, calm)[0].reasons[0]


def test_slo_guard_ignores_a_lone_small_loss_in_a_calm_hour():
    """Multiwindow alert: the fast window burns (4x the budget rate), the hour does not (0.2x): no escalation."""
    decide = POLICIES["slo"]
    steady = np.full(3600, 4.0)
    state = None
    for k in range(200):  # 50 min of decisions with enough ready replicas: nothing lost
        _, state = decide(obs(steady, now=5000.0 + 15 * k, ready=3), state, CFG)
    _, after = decide(obs(steady, now=8000.0, ready=2, queue=42.0), state, CFG)  # 2 units at risk
    assert after["inner"]["guard"]["log"][-1][2] == pytest.approx(2.0)
    assert after["inner"]["guard"]["factor"] == 1.0
    strict = replace(CFG, slo_burn_alert_slow=0.0)   # fast window alone: escalates
    assert decide(obs(steady, now=8000.0, ready=2, queue=42.0), state, strict)[1]["inner"]["guard"]["factor"] > 1.0


def test_slo_guard_relaxes_with_slack():
    decide = POLICIES["slo"]
    steady = np.full(3600, 4.0)
    _, state = decide(obs(steady, now=5000.0, ready=1, queue=400.0), None, CFG)
    factor = state["inner"]["guard"]["factor"]
    for k in range(1, 400):  # no risk for long after the burn: the slow window's burn falls below slo_slack
        _, state = decide(obs(steady, now=5000.0 + 15 * k, ready=10), state, CFG)
    assert 1.0 <= state["inner"]["guard"]["factor"] < 1.0 + 0.5 * (factor - 1.0)


def test_slo_guard_relaxes_fully_and_keeps_a_spare_replica_only_while_the_burn_is_recent():
    """The factor decays exponentially; its last percent snaps to 1, else ceil(forecast x (1 + 1e-6)) would keep
    a replica above the forecast for good. The one spare replica a burn buys lasts `slo_spare_s`, no longer."""
    decide = POLICIES["slo"]
    steady = np.full(3600, 4.0)
    fresh = decide(obs(steady, now=20000.0, ready=10), None, replace(CFG, slo_warmup_headroom=1.0))[0]
    assert fresh.desired_replicas == 2  # 4/s on 2/s replicas, no headroom
    for spare_s, after in ((0.0, 2), (7200.0, 2), (86_400.0, 3)):
        cfg = replace(CFG, slo_spare_s=spare_s, slo_calibrate_half_life_s=0.0)  # the guard's day-long spare alone
        _, state = decide(obs(steady, now=5000.0, ready=1, queue=400.0), None, cfg)
        assert state["inner"]["guard"]["factor"] > 1.0
        for k in range(1, 900):  # 3.75 h without loss: an hour until the slow window has slack, then 11 half-lives
            decision, state = decide(obs(steady, now=5000.0 + 15 * k, ready=10), state, cfg)
        assert state["inner"]["guard"]["factor"] == 1.0
        assert decision.desired_replicas == after, spare_s
        assert ("+1 spare until" in decision.reasons[0]) == (after == 3), decision.reasons  # said why


def test_slo_scales_to_zero_only_when_the_budget_pays_for_the_wake_up():
    """Demand arriving at zero replicas waits a cold start (120 s) against a 10 s queue budget: ~110 s of it is
    lost. With no budget left in the last hour, one replica stays up through idle time; with room, it goes."""
    spec = ServiceSpec("chat", "H100", 1, 2.0, 120.0, 0, 10, True, 10.0)
    cfg = AutoscaleConfig(service=spec, warmup_s=0.0)
    demand = np.concatenate([np.full(3000, 1.0), np.zeros(600)])        # 1/s for 50 min, then idle 10 min
    strict = POLICIES["slo"](obs(demand, now=9000.0, ready=1), None, cfg)[0]
    assert strict.desired_replicas == 1 and "kept warm" in strict.reasons[0]
    # a 5 % SLO budget (150 units of the hour's 3 000) pays for a ~110-unit wake-up: scale to zero
    loose = POLICIES["slo"](obs(demand, now=9000.0, ready=1), None, replace(cfg, slo_served=0.95))[0]
    assert loose.desired_replicas == 0
    # a queue budget as long as the cold start loses nothing on waking: scale to zero at the strict SLO
    patient = replace(cfg, service=replace(spec, max_queue_s=120.0))
    assert POLICIES["slo"](obs(demand, now=9000.0, ready=1), None, patient)[0].desired_replicas == 0


def test_slo_starts_a_new_service_with_headroom_that_fades_with_history():
    decide = POLICIES["slo"]
    spec = replace(SPEC, max_replicas=64)
    cfg = replace(CFG, service=spec)
    young = decide(obs(np.full(600, 10.0), now=5000.0, ready=5), None, cfg)[0]      # 10 min of history
    old = decide(obs(np.full(7200, 10.0), now=5000.0, ready=5), None, cfg)[0]       # 2 h
    flat = decide(obs(np.full(600, 10.0), now=5000.0, ready=5), None, replace(cfg, slo_warmup_headroom=1.0))[0]
    # 10/s at 2/s a replica: 5; a 10-min-old service gets 1 + 0.25 x (1 - 600/1800) = 1.17x: 6
    assert (young.desired_replicas, old.desired_replicas, flat.desired_replicas) == (6, 5, 5)


def test_a_quiet_hour_one_day_ago_scales_its_next_burst_at_most_twice():
    """The seasonal floor rescales yesterday's next minutes by today's level over yesterday's, clamped to
    [0.5, 2]: unclamped, yesterday's near-idle hour (0.01 units a minute) made a 10/s burst after it 30 000x
    (the hybrid floor asked for 11 145 replicas at 8 requests/s on four days of bursty traffic)."""
    from costplane.autoscale._policies import RAW_POLICIES
    from costplane.autoscale._slo import _seasonal_rate

    spec = replace(SPEC, max_replicas=100_000)
    cfg = replace(CFG, service=spec, decision_interval_s=60.0)
    day, step = 1440, 60.0
    y = np.full(day + 120, 300.0)            # 5/s today over the last two hours
    y[:120] = 0.01                            # one day ago: a near-idle hour ...
    y[120:140] = 600.0                        # ... then 10/s over the minutes ahead of now
    o = Observation(day * step + 7200.0, step, y, 3, 0)
    h = int(np.ceil((spec.cold_start_s + cfg.decision_interval_s) / step))
    assert _seasonal_rate(y, step, h, 1, (86_400.0,)) == pytest.approx(20.0)   # 10/s x the clamped ratio 2
    hybrid, _ = RAW_POLICIES["hybrid"](o, None, cfg)
    assert hybrid.desired_replicas == 10                                     # 20/s at 2/s per replica
    assert RAW_POLICIES["slo"](o, None, cfg)[0].desired_replicas <= 13      # the floor, at most the guard's spare
    # the same window with yesterday at today's level: no rescaling, 10/s needs 5 replicas
    y[:120] = 300.0
    assert RAW_POLICIES["hybrid"](Observation(day * step + 7200.0, step, y, 3, 0), None, cfg)[0].desired_replicas == 5


def test_slo_calibrated_spares_are_the_fewest_that_would_have_kept_the_budget():
    """Each decision scores the fleet without the spares it holds, plus each spare count, with the guard's loss
    estimate; the policy keeps the fewest that would have kept the (day-weighted) losses within the budget.
    Not scored: a young service (the warm-up headroom's business) and a fleet of zero (the keep-warm rule's)."""
    from costplane.autoscale._slo import SPARES, _calibrate, units_at_risk

    cfg = replace(CFG, slo_calibrate_half_life_s=86_400.0, slo_calibrate_share=1.0)
    short = np.concatenate([np.full(3585, 2.0), np.full(15, 4.0)])  # 1 ready replica serves 2/s; 15 s at 4/s
    o = Observation(9000.0, 1.0, short, 1, 0)
    assert units_at_risk(o, cfg, 15) == pytest.approx(10.0)         # 30 units short, 20 wait within 10 s
    state, spares = _calibrate({}, o, cfg, 15, 0.0, 0.0, arrived=60.0)
    assert spares == 1 and state["lost"][:2] == [pytest.approx(10.0), 0.0]  # a second replica loses nothing
    # a first decision weighs the demand in view by age (7 230 units in the last hour): the budget is ~7.2
    assert state["seen"] == pytest.approx(7230.0, rel=0.02)
    # ... so a restarted controller with a day of history does not read one small loss as a burn
    day = np.concatenate([np.full(86_385, 2.0), np.full(15, 4.0)])
    assert _calibrate({}, Observation(90_000.0, 1.0, day, 1, 0), cfg, 15, 0.0, 0.0, arrived=60.0)[1] == 0
    # the spare it holds is not scored as part of the fleet: the same shortfall with 2 up keeps 1, not 0
    again, spares = _calibrate(state, Observation(9015.0, 1.0, short, 2, 0), cfg, 15, 0.0, 0.0, arrived=60.0)
    assert spares == 1 and again["lost"][0] > state["lost"][0]
    # a budget that pays for the loss keeps none (10 units lost of 120 seen: within a 10 % budget)
    assert _calibrate({}, o, replace(cfg, slo_served=0.8), 15, 0.0, 0.0, arrived=120.0)[1] == 0
    # young (under slo_warmup_s of history) or waking from zero: not scored
    young = Observation(9000.0, 1.0, short[-600:], 1, 0)
    young_state, young_spares = _calibrate({}, young, cfg, 15, 0.0, 0.0, arrived=60.0)
    assert young_spares == 0 and young_state["lost"] == [0.0] * len(SPARES)
    assert _calibrate({}, Observation(9000.0, 1.0, short, 0, 1), cfg, 15, 0.0, 0.0, arrived=60.0)[1] == 0
    # off
    assert _calibrate({}, o, replace(cfg, slo_calibrate_half_life_s=0.0), 15, 0.0, 0.0, arrived=60.0) == ({}, 0)
    # through the policy: one replica above what it asks with the calibration off, and it says why
    decide = POLICIES["slo"]
    on, _ = decide(o, None, cfg)
    off, _ = decide(o, None, replace(cfg, slo_calibrate_half_life_s=0.0))
    assert on.desired_replicas == off.desired_replicas + 1 and "+1 calibrated spares" in on.reasons[0]
