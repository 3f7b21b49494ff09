"""Linear regression on a trend and Fourier seasonal terms: the seeds' linear-regression baseline.

    y_t = c + d·t + Σ_{k≤K} (a_k sin(2πkt/S) + b_k cos(2πkt/S)) [+ the same for a second season S2] + ε_t

K = min(⌊S/2⌋, 10) harmonics (⌊S/2⌋ harmonics span exactly the S seasonal dummies). A second, longer season
(weekly on top of daily) is added only when the history holds two of it. Ordinary least squares; the
prediction standard deviation is σ·sqrt(1 + x₀ᵀ(XᵀX)⁻¹x₀), the textbook OLS prediction interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np

from costplane.forecast._types import BaseForecaster

MAX_HARMONICS = 10


@dataclass(frozen=True)
class LinearState:
    coef: np.ndarray
    xtx_inv: np.ndarray
    seasons: tuple[int, ...]
    n: int
    sigma: float


def _harmonics(season: int) -> int:
    return min(season // 2, MAX_HARMONICS) if season > 1 else 0


@lru_cache(maxsize=64)
def _terms(seasons: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """The (harmonic k, season s) Fourier terms of the seasons, each frequency k/s once.

    A harmonic of the second season can be one of the first (weekly k = 7 is daily k = 1): the same column
    twice, equal up to rounding, makes XᵀX near-singular and the interval explode.
    """
    seen: set[Fraction] = set()
    terms = []
    for s in seasons:
        for k in range(1, _harmonics(s) + 1):
            if Fraction(k, s) not in seen:
                seen.add(Fraction(k, s))
                terms.append((k, s))
    return tuple(terms)


def design(t: np.ndarray, seasons: Sequence[int]) -> np.ndarray:
    cols = [np.ones_like(t), t]
    for k, s in _terms(tuple(seasons)):
        angle = 2 * np.pi * k * t / s
        if 2 * k != s:  # sin(πt) is identically zero on integers
            cols.append(np.sin(angle))
        cols.append(np.cos(angle))
    return np.column_stack(cols)


def _columns(seasons: Sequence[int]) -> int:
    """Columns of `design` for these seasons, without building it (it runs for every series of every fit)."""
    return 2 + sum(1 if 2 * k == s else 2 for k, s in _terms(tuple(seasons)))


def _usable_seasons(n: int, season: int, season2: int | None) -> tuple[int, ...]:
    out = []
    for s in (season, season2):
        if s and s > 1 and n >= 2 * s:
            out.append(int(s))
    # Regression needs more rows than columns (a second season's harmonics that repeat the first's are not
    # columns); keep the seasons that fit.
    while out and n <= _columns(out) + 2:
        out.pop()
    return tuple(out)


def fit_linear_batch(ys: Sequence[np.ndarray], season: int, season2: int | None = None) -> list[LinearState]:
    """OLS for many series; series of equal length and seasons share one pseudo-inverse."""
    out: list[LinearState | None] = [None] * len(ys)
    groups: dict[tuple[int, tuple[int, ...]], list[int]] = {}
    for i, y in enumerate(ys):
        groups.setdefault((y.size, _usable_seasons(y.size, season, season2)), []).append(i)
    for (n, seasons), idx in groups.items():
        if n == 1:
            for i in idx:
                out[i] = LinearState(np.array([ys[i][0], 0.0]), np.zeros((2, 2)), (), 1, 0.0)
            continue
        # t is scaled to [0, 1) so XᵀX stays well conditioned for long histories.
        X = design(np.arange(n, dtype=float) / n, ()) if not seasons else _design_scaled(n, seasons)
        pinv, rank = _pinv_and_rank(X)
        xtx_inv = pinv @ pinv.T
        Y = np.stack([ys[i] for i in idx], axis=1)  # (n, B)
        coef = pinv @ Y
        resid = Y - X @ coef
        dof = max(n - rank, 1)
        sigma = np.sqrt((resid * resid).sum(axis=0) / dof)
        for col, i in enumerate(idx):
            out[i] = LinearState(coef[:, col].copy(), xtx_inv, seasons, n, float(sigma[col]))
    return out  # type: ignore[return-value]


def _pinv_and_rank(X: np.ndarray) -> tuple[np.ndarray, int]:
    """np.linalg.pinv(X) and np.linalg.matrix_rank(X), with their default tolerances, from one SVD (not two)."""
    u, sv, vt = np.linalg.svd(X, full_matrices=False)
    top = sv.max(initial=0.0)
    rank = int((sv > top * max(X.shape) * np.finfo(sv.dtype).eps).sum())
    inv = np.divide(1.0, sv, out=np.zeros_like(sv), where=sv > 1e-15 * top)
    return (vt.T * inv) @ u.T, rank


def _design_scaled(n: int, seasons: tuple[int, ...], start: int = 0, count: int | None = None) -> np.ndarray:
    t = np.arange(start, start + (n if count is None else count), dtype=float)
    X = design(t, seasons)
    X[:, 1] = t / n
    return X


@lru_cache(maxsize=256)
def _future_design(n: int, seasons: tuple[int, ...], h: int) -> np.ndarray:
    """The design rows of the h steps after a history of n (read-only): every series of a panel cut at the same
    point shares them (a backtest predicts 72 series x 7 windows from 7 of these)."""
    X0 = _design_scaled(n, seasons, start=n, count=h)
    X0.flags.writeable = False
    return X0


def linear_predict(state: LinearState, h: int) -> tuple[np.ndarray, np.ndarray]:
    X0 = _future_design(state.n, state.seasons, h)
    mean = X0 @ state.coef
    lever = np.einsum("ij,jk,ik->i", X0, state.xtx_inv, X0)
    return mean, state.sigma * np.sqrt(1.0 + np.maximum(lever, 0.0))  # rounding can make x₀ᵀ(XᵀX)⁻¹x₀ < 0


def linear_means(states: Sequence[LinearState], h: int) -> np.ndarray:
    """(series, h) point forecasts; states of one history length and seasons share one design matrix."""
    out = np.empty((len(states), h))
    groups: dict[tuple[int, tuple[int, ...]], list[int]] = {}
    for i, st in enumerate(states):
        groups.setdefault((st.n, st.seasons), []).append(i)
    for (n, seasons), idx in groups.items():
        out[idx] = (_future_design(n, seasons, h) @ np.stack([states[i].coef for i in idx], axis=1)).T
    return out


class Linear(BaseForecaster):
    """OLS on trend + Fourier terms of the season (and of a second, longer season when given)."""

    alias = "linear"

    def __init__(self, season: int = 1, season2: int | None = None) -> None:
        super().__init__(season)
        self.season2 = int(season2) if season2 and season2 > 1 else None

    def params(self) -> dict:
        return {"season": self.season, "season2": self.season2}

    def _fit_batch(self, ys: Sequence[np.ndarray]) -> list[LinearState]:
        return fit_linear_batch(ys, self.season, self.season2)

    def _predict_state(self, state: LinearState, h: int) -> tuple[np.ndarray, np.ndarray]:
        return linear_predict(state, h)
