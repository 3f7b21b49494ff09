"""Expected wall time of a checkpointed job under spot interruptions, its Monte Carlo check, default rates.

Model: the job needs `compute_s` seconds of uninterrupted progress. Interruptions arrive as a Poisson
process of rate `lam` per second while it runs (a job on k nodes stops when any node is reclaimed, so
lam = k x the per-node rate). Progress is checkpointed every `interval_s` seconds of progress;
an interruption loses the progress since the last checkpoint and costs `restore_s` of paid set-up
(new machine, load the checkpoint) during which no interruption is counted.

A segment of x seconds of progress then takes, in expectation (the renewal argument behind Young's
and Daly's checkpoint formulas):

    E[T(x)] = (1/lam + restore_s) * (exp(lam * x) - 1)

and the job is floor(W / c) full segments plus one of the remainder. To first order in lam this is
x + lam * x * (x/2 + restore_s): each interruption loses half an interval plus the restore, on average.
With lam = 0 it is x exactly. Expected cost = hourly price x expected hours (restore time is paid).
"""

from __future__ import annotations

import numpy as np

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
# exp(lam * x) beyond this overflows float64; such an option is treated as never finishing.
_MAX_EXPONENT = 700.0


def interruptions_per_hour(cloud: str, region: str, instance_type: str, overrides: dict[str, float]) -> float:
    """Most specific rate wins: cloud/region/instance_type, cloud/region, cloud, `default`, built-in."""
    cloud_l, region_l = cloud.lower(), region.lower()
    for key in (f"{cloud_l}/{region_l}/{instance_type}", f"{cloud_l}/{region_l}", cloud_l, "default"):
        if key in overrides:
            return overrides[key]
    return DEFAULT_INTERRUPTIONS_PER_HOUR.get(cloud_l, FALLBACK_INTERRUPTIONS_PER_HOUR)


def _segment_s(x: np.ndarray, lam: np.ndarray, restore_s: float) -> np.ndarray:
    exponent = lam * x
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        interrupted = (1.0 / lam + restore_s) * np.expm1(np.minimum(exponent, _MAX_EXPONENT))
        out = np.where(lam > 0, interrupted, x)
    return np.where(exponent > _MAX_EXPONENT, np.inf, out)


def expected_wall_s(compute_s: np.ndarray | float, lam_per_s: np.ndarray | float,
                    interval_s: float | None, restore_s: float) -> np.ndarray:
    """Expected wall seconds to finish `compute_s` of progress (see module docstring); vectorised."""
    w = np.asarray(compute_s, dtype=float)
    lam = np.asarray(lam_per_s, dtype=float)
    w, lam = np.broadcast_arrays(w, lam)
    c = w if interval_s is None else np.minimum(float(interval_s), w)  # no checkpoints: one segment
    with np.errstate(divide="ignore", invalid="ignore"):
        full = np.where(c > 0, np.floor(w / c), 0.0)
    rest = w - full * c
    return full * _segment_s(c, lam, restore_s) + _segment_s(rest, lam, restore_s)


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
