"""Spot interruptions for training: default rates per cloud, and the Monte Carlo check of the expected wall time.

The closed form itself (`expected_wall_s`) lives in costplane.core.spot, shared with the job scheduler.

Expected cost = hourly price x expected hours (restore time is paid).
"""

from __future__ import annotations

import numpy as np

from costplane.core.spot import expected_wall_s

__all__ = ["expected_wall_s", "interruptions_per_hour", "simulate_wall_s"]

# Spot interruptions per node-hour when the user gives none, by cloud. An ASSUMPTION, not a measurement:
# no cloud publishes GPU interruption rates. Basis: AWS's Spot Instance Advisor buckets interruption
# frequency per month from "<5 %" to ">20 %", and GPU spot capacity is reclaimed more often than
# average, so we assume one interruption per ~20 node-hours on the hyperscalers (0.05/h) and one per
# ~10 node-hours on marketplace/neocloud "interruptible" capacity (0.1/h). Override per cloud, region
# or instance type with the profile's `interruption_rates` or `--interruption-rates FILE`.
DEFAULT_INTERRUPTIONS_PER_HOUR: dict[str, float] = {
    "aws": 0.05,
    "gcp": 0.05,
    "azure": 0.05,
    "oci": 0.05,
}
FALLBACK_INTERRUPTIONS_PER_HOUR = 0.1


def interruptions_per_hour(cloud: str, region: str, instance_type: str, overrides: dict[str, float]) -> float:
    """Most specific rate wins: cloud/region/instance_type, cloud/region, cloud, `default`, built-in."""
    cloud_l, region_l = cloud.lower(), region.lower()
    for key in (f"{cloud_l}/{region_l}/{instance_type}", f"{cloud_l}/{region_l}", cloud_l, "default"):
        if key in overrides:
            return overrides[key]
    return DEFAULT_INTERRUPTIONS_PER_HOUR.get(cloud_l, FALLBACK_INTERRUPTIONS_PER_HOUR)


def simulate_wall_s(compute_s: float, lam_per_s: float, interval_s: float | None, restore_s: float,
                    runs: int = 4000, seed: int = 0) -> np.ndarray:
    """Monte Carlo: wall seconds of `runs` independent jobs, drawing every interruption explicitly.

    Each step draws the time to the next interruption for every unfinished run; if it comes after the
    job would finish, the run ends; otherwise progress falls back to the last checkpoint reached and
    the restore is added. Independent of the closed form, which it is used to check.
    """
    rng = np.random.default_rng(seed)
    interval = compute_s if interval_s is None else float(interval_s)
    saved = np.zeros(runs)  # checkpointed progress, a multiple of the interval
    wall = np.zeros(runs)
    active = np.ones(runs, dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        to_interrupt = rng.exponential(1.0 / lam_per_s, idx.size) if lam_per_s > 0 else np.full(idx.size, np.inf)
        remaining = compute_s - saved[idx]
        done = to_interrupt >= remaining
        wall[idx[done]] += remaining[done]
        active[idx[done]] = False
        hit = idx[~done]
        ran = to_interrupt[~done]
        # checkpoints are written at progress = k * interval; those passed before the interruption survive
        saved[hit] = np.minimum(np.floor((saved[hit] + ran) / interval) * interval, compute_s)
        wall[hit] += ran + restore_s
    return wall
