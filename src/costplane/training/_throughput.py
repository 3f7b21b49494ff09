"""Throughput scaling curves per GPU model, fitted from a few measured points (pure, numpy/scipy only).

Model (Amdahl-like, in the spirit of Pollux's goodput and Sia's throughput models): the wall time
per unit of work on n GPUs is

    tau(n) = 1 / T(n) = a / n + b            a, b >= 0          ("amdahl", 2 parameters)
    tau(n) = a / n + b + c * ln(n)           a, b, c >= 0       ("amdahl-comm", 3 parameters)

`a/n` is the part that parallelises, `b` the part that does not, `c ln n` a collective-communication
cost that grows with the ring/tree depth. With two points the 2-parameter curve passes through both;
the 3-parameter curve is only tried with four or more points and kept when its leave-one-out error
is lower. The fit minimises *relative* error, sum_i (T_i * tau(n_i) - 1)^2, by non-negative least
squares (scipy.optimize.nnls): convex, unique, and non-negative parameters keep T(n) finite and
monotone in the Amdahl part. Superlinear measurements (T grows faster than n) clamp b to 0.

Prediction is trusted in [min_measured, max_measured * EXTRAPOLATION_FACTOR]; `allowed_range` gives it
and the planner never leaves it. Not below the smallest measured count: a cost minimiser always
prefers fewer GPUs (efficiency falls with n), so a downward extrapolation would decide every plan
without a deadline on the least-supported number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from costplane.core.errors import InputError, NotFittedError

# How far above the largest measured GPU count a fitted curve may be used.
EXTRAPOLATION_FACTOR = 2.0
# The 3-parameter communication curve needs one spare point for its leave-one-out check.
MIN_POINTS_FOR_COMM_TERM = 4


def _design(n: np.ndarray, form: str) -> np.ndarray:
    cols = [1.0 / n, np.ones_like(n)]
    if form == "amdahl-comm":
        cols.append(np.log(n))
    return np.column_stack(cols)


def _fit_params(n: np.ndarray, t: np.ndarray, form: str) -> np.ndarray:
    # Rows scaled by T_i: residual = T_i * tau(n_i) - 1, a relative error in throughput.
    design = _design(n, form) * t[:, None]
    params, _ = nnls(design, np.ones_like(t))
    return params


def _predict(params: np.ndarray, n: np.ndarray, form: str) -> np.ndarray:
    tau = _design(np.asarray(n, dtype=float), form) @ params
    with np.errstate(divide="ignore"):
        return np.where(tau > 0, 1.0 / tau, np.inf)


def _loo_errors(n: np.ndarray, t: np.ndarray, form: str) -> np.ndarray:
    """|predicted - measured| / measured for each point left out of its own fit."""
    errors = np.empty(n.size)
    for i in range(n.size):
        keep = np.arange(n.size) != i
        params = _fit_params(n[keep], t[keep], form)
        errors[i] = abs(_predict(params, n[i : i + 1], form)[0] - t[i]) / t[i]
    return errors


@dataclass(frozen=True)
class ScalingCurve:
    """A fitted T(n) for one GPU model. Errors are relative (0.05 = 5 %)."""

    gpu: str
    form: str
    params: tuple[float, ...]
    measured_gpus: tuple[int, ...]
    fit_error: float  # root-mean-square relative error on the points it was fitted to
    loo_error: float | None  # mean leave-one-out relative error (None with fewer than 3 distinct counts)

    def units_per_s(self, gpus: np.ndarray | float) -> np.ndarray:
        if not self.params:
            raise NotFittedError(f"no throughput curve for {self.gpu}", fix="fit it with fit_curve first")
        return _predict(np.asarray(self.params), np.atleast_1d(np.asarray(gpus, dtype=float)), self.form)

    @property
    def allowed_range(self) -> tuple[int, int]:
        lo = min(self.measured_gpus)
        hi = int(np.floor(max(self.measured_gpus) * EXTRAPOLATION_FACTOR))
        return lo, hi

    def is_extrapolated(self, gpus: int) -> bool:
        return not (min(self.measured_gpus) <= gpus <= max(self.measured_gpus))

    def to_dict(self) -> dict:
        lo, hi = self.allowed_range
        return {"gpu": self.gpu, "form": self.form, "params": list(self.params),
                "measured_gpus": list(self.measured_gpus), "fit_error": self.fit_error,
                "loo_error": self.loo_error, "allowed_gpus": [lo, hi]}


def fit_curve(gpu: str, gpus: list[int] | np.ndarray, units_per_s: list[float] | np.ndarray) -> ScalingCurve:
    """Fit T(n) for one GPU model from >= 2 points at >= 2 distinct GPU counts."""
    n = np.asarray(gpus, dtype=float)
    t = np.asarray(units_per_s, dtype=float)
    if n.size != t.size or np.unique(n).size < 2:
        raise InputError(f"{gpu}: a scaling curve needs points at two or more different GPU counts, "
                         f"got counts {sorted(set(n.astype(int).tolist()))}",
                         fix=f"measure {gpu} at a second GPU count (e.g. double the first)")
    if np.any(n <= 0) or np.any(~np.isfinite(t)) or np.any(t <= 0):
        raise InputError(f"{gpu}: GPU counts and throughput must be > 0", fix="fix the non-positive point")
    forms = ["amdahl"] + (["amdahl-comm"] if np.unique(n).size >= MIN_POINTS_FOR_COMM_TERM else [])
    best: ScalingCurve | None = None
    for form in forms:
        params = _fit_params(n, t, form)
        rel = _predict(params, n, form) / t - 1.0
        loo = float(np.mean(_loo_errors(n, t, form))) if np.unique(n).size >= 3 else None
        curve = ScalingCurve(gpu, form, tuple(float(p) for p in params), tuple(sorted({int(x) for x in n})),
                             float(np.sqrt(np.mean(rel**2))), loo)
        if best is None or (curve.loo_error is not None and best.loo_error is not None
                            and curve.loo_error < best.loo_error):
            best = curve
    assert best is not None
    return best
