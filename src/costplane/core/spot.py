"""Spot runtime: the one model of how long a job takes under spot interruptions (training and scheduling).

Model: the job needs `compute_s` seconds of uninterrupted progress. Interruptions arrive as a Poisson
process of rate `lam` per second while it runs (a job on k nodes stops when any node is reclaimed, so
lam = k x the per-node rate). Progress is checkpointed every `interval_s` seconds of progress (None: no
checkpoints, a restart from scratch); an interruption loses the progress since the last checkpoint and
costs `restore_s` of paid set-up (new machine, load the checkpoint) during which no interruption is counted.

A segment of x seconds of progress then takes, in expectation (the renewal argument behind Young's
and Daly's checkpoint formulas):

    E[T(x)] = (1/lam + restore_s) * (exp(lam * x) - 1)

and the job is floor(W / c) full segments plus one of the remainder. To first order in lam this is
x + lam * x * (x/2 + restore_s): each interruption loses half an interval plus the restore, on average.
With lam = 0 it is x exactly; without checkpoints and restore it is (exp(lam W) - 1) / lam.
"""

from __future__ import annotations

import numpy as np

# exp(lam * x) beyond this overflows float64; such an option is treated as never finishing.
_MAX_EXPONENT = 700.0


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
