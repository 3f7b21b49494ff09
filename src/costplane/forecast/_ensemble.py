"""`ensemble`: the median of ETS, seasonal naive and naive, with empirical intervals (`auto`'s first candidate).

Point forecast, per step: the median of three forecasts, each fitted on the same history,

    ETS (season S, form and parameters by AIC, `_ets.py`), seasonal naive (season S), naive (the last value).

The median follows whichever two agree: a level shift is picked up at once by naive (and by ETS when its α
is high), a daily cycle by seasonal naive and ETS, and one bad member never decides. With S = 1 seasonal
naive would repeat naive, so the third member is instead the mean of the last h points (a window average):
on noisy counts it sides with ETS's smoothed level, on step-like demand ETS sides with naive.

Intervals: the empirical distribution of the in-sample j-step errors of the simpler forecaster that fits
the history better (naive or seasonal naive, by mean absolute error over all steps 1..h), at every origin
of the last `MAX_ERROR_HISTORY` points, added to the point. Demand that moves in steps (instances, GPUs)
has mostly-zero errors with rare jumps, which a normal interval overstates around the point and
understates in the tails. With fewer than `MIN_ERROR_ORIGINS` origins the interval falls back to ETS's normal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from costplane.forecast._ets import EtsState, ets_predict, fit_ets_batch
from costplane.forecast._naive import (
    NaiveState,
    seasonal_naive_fit,
    seasonal_naive_means,
    seasonal_naive_predict,
    usable_season,
)
from costplane.forecast._types import ERROR_PROBS, BaseForecaster

MAX_ERROR_HISTORY = 2016  # points of history the error distribution is read from (12 weeks at 1 h)
MIN_ERROR_ORIGINS = 8


@dataclass(frozen=True)
class EnsembleState:
    ets: EtsState
    seasonal: NaiveState
    naive: NaiveState
    tail: np.ndarray  # the last MAX_ERROR_HISTORY points, for the error distribution
    season: int


def step_errors(y: np.ndarray, h: int, season: int) -> np.ndarray | None:
    """(h, len(ERROR_PROBS)) quantiles of the in-sample j-step errors (j = 1..h) of naive or seasonal naive.

    Naive at origin t: y[t + j] - y[t]. Seasonal naive: y[t + j] - y[t + j - S·⌈j/S⌉]. The one with the lower
    mean absolute error is used; None when fewer than MIN_ERROR_ORIGINS origins hold all h steps.
    """
    n = y.size
    j = np.arange(1, h + 1)[:, None]
    first = season if season > 1 else 0
    origins = np.arange(first, n - h)[None, :]
    if origins.size < MIN_ERROR_ORIGINS:
        origins = np.arange(0, n - h)[None, :]
        season = 1
        if origins.size < MIN_ERROR_ORIGINS:
            return None
    naive = y[origins + j] - y[origins]
    best = naive
    if season > 1:
        back = season * ((j - 1) // season + 1)
        seasonal = y[origins + j] - y[origins + j - back]
        if np.abs(seasonal).mean() < np.abs(naive).mean():
            best = seasonal
    # np.quantile's linear rule on a sorted copy: one sort instead of a partition per probability.
    ordered = np.sort(best, axis=1)
    pos = ERROR_PROBS * (ordered.shape[1] - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, ordered.shape[1] - 1)
    return ordered[:, lo] + (ordered[:, hi] - ordered[:, lo]) * (pos - lo)


def ensemble_states(ys: Sequence[np.ndarray], season: int, ets: Sequence[EtsState]) -> list[EnsembleState]:
    """Ensemble states around ETS fits already made on the same histories (`auto` and `combination` share one)."""
    return [EnsembleState(e, seasonal_naive_fit(y, season), seasonal_naive_fit(y, 1),
                          y[-MAX_ERROR_HISTORY:].copy(), season) for e, y in zip(ets, ys)]


def ensemble_mean(state: EnsembleState, h: int, ets_mean: np.ndarray | None = None) -> np.ndarray:
    """The point forecast alone (what `auto`'s validation scores): the median of the three members."""
    if ets_mean is None:
        ets_mean = ets_predict(state.ets, h)[0]
    if state.seasonal.season > 1:
        third = seasonal_naive_predict(state.seasonal, h)[0]
    else:  # no season: a window average instead of a second naive
        third = np.full(h, state.tail[-h:].mean())
    return np.median(np.stack([ets_mean, third, seasonal_naive_predict(state.naive, h)[0]]), axis=0)


def ensemble_means(ys: Sequence[np.ndarray], season: int, ets_mean: np.ndarray) -> np.ndarray:
    """(series, h) point forecasts of ensembles on `ys` whose ETS means are `ets_mean` (series, h), equal to
    `ensemble_mean` row by row: the median of ETS, seasonal naive (or, without a season, the mean of the last
    h points) and naive."""
    h = ets_mean.shape[1]
    naive = seasonal_naive_means(ys, 1, h)
    third = seasonal_naive_means(ys, season, h)
    no_season = np.array([usable_season(y.size, season) == 1 for y in ys])  # as ensemble_mean's `seasonal.season > 1`
    if no_season.any():
        third[no_season] = np.array([y[-MAX_ERROR_HISTORY:][-h:].mean() for y, ns in zip(ys, no_season) if ns])[:, None]
    return np.median(np.stack([ets_mean, third, naive]), axis=0)


def ensemble_predict(state: EnsembleState, h: int) -> tuple[np.ndarray, ...]:
    """(mean, sd[, error table]) of a fitted ensemble."""
    ets_mean, ets_sd = ets_predict(state.ets, h)
    mean = ensemble_mean(state, h, ets_mean)
    errors = step_errors(state.tail, h, state.season)
    if errors is None:
        return mean, ets_sd
    return mean, ets_sd, errors


class Ensemble(BaseForecaster):
    """Median of ETS, seasonal naive and naive; intervals from the history's own j-step errors."""

    alias = "ensemble"

    def _fit_batch(self, ys: Sequence[np.ndarray]) -> list[EnsembleState]:
        return ensemble_states(ys, self.season, fit_ets_batch(ys, self.season))

    def _predict_state(self, state: EnsembleState, h: int) -> tuple[np.ndarray, ...]:
        return ensemble_predict(state, h)

    def _state_model(self, state: EnsembleState) -> str:
        return f"ensemble:{state.ets.method}"
