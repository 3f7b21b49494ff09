"""Spot expected time: the closed form against a seeded Monte Carlo of explicit interruptions (within 2 %)."""

from __future__ import annotations

import numpy as np
import pytest

from costplane.training import expected_wall_s, interruptions_per_hour, simulate_wall_s


@pytest.mark.parametrize(
    "compute_h, rate_per_h, interval_s, restore_s",
    [
        (10.0, 0.05, 1800, 300),    # one node, hyperscaler default rate
        (20.0, 0.4, 1800, 300),     # 8 nodes x 0.05/h
        (5.0, 1.0, 600, 120),       # a rough market
        (3.0, 0.2, None, 60),       # never checkpoints: interruptions restart from zero
        (7.3, 0.3, 2000, 0),        # remainder segment shorter than the interval
    ],
)
def test_formula_matches_monte_carlo_within_two_percent(compute_h, rate_per_h, interval_s, restore_s):
    compute_s, lam = compute_h * 3600, rate_per_h / 3600
    formula = float(expected_wall_s(compute_s, lam, interval_s, restore_s))
    simulated = simulate_wall_s(compute_s, lam, interval_s, restore_s, runs=20000, seed=7)
    assert simulated.mean() == pytest.approx(formula, rel=0.02)
    assert formula > compute_s


def test_no_interruptions_means_exactly_the_compute_time():
    assert float(expected_wall_s(12345.0, 0.0, 1800, 300)) == pytest.approx(12345.0, rel=1e-12)
    assert simulate_wall_s(12345.0, 0.0, 1800, 300, runs=10).tolist() == [12345.0] * 10


def test_first_order_is_half_an_interval_plus_restore_per_interruption():
    compute_s, lam, c, r = 36000.0, 1e-7, 1800.0, 300.0
    exact = float(expected_wall_s(compute_s, lam, c, r))
    first_order = compute_s * (1 + lam * (c / 2 + r))
    assert exact == pytest.approx(first_order, rel=1e-6)


def test_vectorised_over_options_and_monotone_in_rate():
    rates = np.array([0.0, 0.05, 0.1, 0.5]) / 3600
    walls = expected_wall_s(np.full(4, 36000.0), rates, 1800, 300)
    assert np.all(np.diff(walls) > 0)


def test_rate_lookup_most_specific_wins():
    overrides = {"aws": 0.2, "aws/us-east-1": 0.3, "aws/us-east-1/p5.48xlarge": 0.4, "default": 0.9}
    assert interruptions_per_hour("aws", "us-east-1", "p5.48xlarge", overrides) == 0.4
    assert interruptions_per_hour("AWS", "us-east-1", "p4d.24xlarge", overrides) == 0.3
    assert interruptions_per_hour("aws", "eu-west-1", "p5.48xlarge", overrides) == 0.2
    assert interruptions_per_hour("gcp", "us-central1", "a3", overrides) == 0.9
    assert interruptions_per_hour("gcp", "us-central1", "a3", {}) == 0.05
    assert interruptions_per_hour("vast", "x", "y", {}) == 0.1


def test_the_scheduler_uses_the_same_spot_model_as_train_plan():
    """One spot-runtime model: schedule.expected_spot_s equals training.expected_wall_s (core.spot) exactly,
    where the old scheduler's first-order formula was 0.2 % short on a 10-hour checkpointed job at 0.2/h."""
    from costplane.schedule import Job, SchedConfig, expected_spot_s
    from costplane.training import expected_wall_s

    cfg = SchedConfig(spot_interruptions_per_hour=0.2, checkpoint_interval_s=1800.0, restore_s=120.0)
    lam = 0.2 / 3600
    for hours in (0.5, 1.0, 10.0, 100.0):
        t = hours * 3600
        ckpt = expected_spot_s(Job("c", 0, t, 1, checkpointable=True), cfg)
        assert ckpt == float(expected_wall_s(t, lam, 1800.0, 120.0))
        scratch = expected_spot_s(Job("s", 0, t, 1), cfg)
        assert scratch == float(expected_wall_s(t, lam, None, 0.0))
    t = 36_000.0
    first_order = t * (1 + lam * (1800.0 / 2 + 120.0))
    exact = expected_spot_s(Job("c", 0, t, 1, checkpointable=True), cfg)
    assert exact > first_order and (exact - first_order) / exact == pytest.approx(0.00194, abs=1e-5)
