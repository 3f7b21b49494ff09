"""`combination`: the equal-weight mean of the ensemble, ETS and linear regression, intervals by quantile averaging.

Point forecast, per step: (ensemble + ETS + linear) / 3, each fitted on the same history (the ensemble and
ETS share one ETS fit). The three err differently: ETS smooths level and season recursively, the ensemble
follows steps (its median sides with naive), linear regression estimates trend and daily (+ weekly) Fourier
terms over the whole history at once. Where none is clearly better, as on noisy hourly counts with a daily
cycle, their mean beats each of them (Bates & Granger 1969; the M competitions' lesson); where one is, as on
step-shaped instance counts where linear's trend is wrong, `auto`'s validation keeps that one instead.
On demand that was never negative each member's forecast is clipped at 0 before the mean: a negative
forecast of a count is known to be wrong.

Intervals: each member's forecast distribution on the `ERROR_PROBS` grid (a normal member as mean + z·sd,
an empirical one from its error table), averaged probability by probability (quantile averaging,
"Vincentization"), less the combined mean: an empirical error table like the ensemble's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from costplane.forecast._ensemble import EnsembleState, ensemble_predict, ensemble_states
from costplane.forecast._ets import ets_predict, fit_ets_batch
from costplane.forecast._linear import LinearState, fit_linear_batch, linear_predict
from costplane.forecast._types import ERROR_PROBS, BaseForecaster

_Z = np.array([NormalDist().inv_cdf(float(p)) for p in ERROR_PROBS])


@dataclass(frozen=True)
class CombinationState:
    ensemble: EnsembleState  # holds the ETS fit both members use
    linear: LinearState
    nonnegative: bool


def member_forecasts(state: CombinationState, h: int) -> list[tuple[np.ndarray, ...]]:
    """(mean, sd[, error table]) of the ensemble, ETS and linear, in that order."""
    return [ensemble_predict(state.ensemble, h),
            ets_predict(state.ensemble.ets, h), linear_predict(state.linear, h)]


def combine_means(ensemble: np.ndarray, ets: np.ndarray, linear: np.ndarray, nonnegative: bool | np.ndarray) -> np.ndarray:
    """The point forecast: each member clipped at 0 where the history never went below, then the mean.

    `nonnegative` is one flag, or one per series broadcasting against the means (`auto`'s validation panel).
    """
    stacked = np.stack([ensemble, ets, linear])
    return np.where(nonnegative, np.maximum(stacked, 0.0), stacked).mean(axis=0)


def _quantile_grid(out: tuple[np.ndarray, ...]) -> np.ndarray:
    """(h, len(ERROR_PROBS)) quantiles of one member's forecast distribution."""
    mean = out[0][:, None]
    if len(out) == 3:
        return mean + np.maximum.accumulate(out[2], axis=1)
    return mean + np.maximum(out[1], 0.0)[:, None] * _Z[None, :]


class Combination(BaseForecaster):
    """Mean of ensemble, ETS and linear (daily and, given history, weekly terms); quantile-averaged intervals."""

    alias = "combination"

    def __init__(self, season: int = 1, season2: int | None = None) -> None:
        super().__init__(season)
        self.season2 = int(season2) if season2 and season2 > 1 else None

    def params(self) -> dict:
        return {"season": self.season, "season2": self.season2}

    def _fit_batch(self, ys: Sequence[np.ndarray]) -> list[CombinationState]:
        ensembles = ensemble_states(ys, self.season, fit_ets_batch(ys, self.season))
        return combination_states(ys, ensembles, fit_linear_batch(ys, self.season, self.season2))

    def _predict_state(self, state: CombinationState, h: int) -> tuple[np.ndarray, ...]:
        members = member_forecasts(state, h)
        mean = combine_means(*(m[0] for m in members), state.nonnegative)
        grids = np.stack([_quantile_grid(m) for m in members])
        if state.nonnegative:
            grids = np.maximum(grids, 0.0)
        sd = np.mean([m[1] for m in members], axis=0)
        return mean, sd, grids.mean(axis=0) - mean[:, None]

    def _state_model(self, state: CombinationState) -> str:
        return f"combination:{state.ensemble.ets.method}"


def combination_states(ys: Sequence[np.ndarray], ensembles: Sequence[EnsembleState],
                       linears: Sequence[LinearState]) -> list[CombinationState]:
    """Combination states around member fits already made on the same histories (as `auto` makes them)."""
    return [CombinationState(e, lin, bool((y >= 0).all())) for y, e, lin in zip(ys, ensembles, linears)]
