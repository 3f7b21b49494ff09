"""Seasonal naive: tomorrow's value at this time of day is today's; the baseline every MASE is scaled by.

    ŷ_{n+j} = y_{n+j-S·(⌊(j-1)/S⌋+1)}      σ_j = σ · sqrt(⌊(j-1)/S⌋ + 1)

σ is the RMS of the in-sample seasonal differences y_t - y_{t-S} (Hyndman & Athanasopoulos, fpp3 §5.5).
A history shorter than S+1 falls back to S = 1 (naive).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from costplane.forecast._types import BaseForecaster


@dataclass(frozen=True)
class NaiveState:
    last: np.ndarray  # the last S observations, oldest first
    sigma: float
    season: int


def usable_season(n: int, season: int) -> int:
    """The season a history of n points supports: `season`, or 1 (naive) when n <= season."""
    return season if n > season else 1


def seasonal_naive_fit(y: np.ndarray, season: int) -> NaiveState:
    s = usable_season(y.size, season)
    diffs = y[s:] - y[:-s]
    sigma = float(np.sqrt(np.mean(diffs * diffs))) if diffs.size else 0.0
    return NaiveState(y[-s:].copy(), sigma, s)


def seasonal_naive_predict(state: NaiveState, h: int) -> tuple[np.ndarray, np.ndarray]:
    j = np.arange(h)
    mean = state.last[j % state.season]
    sd = state.sigma * np.sqrt(j // state.season + 1.0)
    return mean, sd


def seasonal_naive_means(ys: Sequence[np.ndarray], season: int, h: int) -> np.ndarray:
    """(series, h) point forecasts, equal to `seasonal_naive_predict(seasonal_naive_fit(y, season), h)[0]` for
    each y (a history of `season` points or fewer falls back to the last value)."""
    out = np.empty((len(ys), h))
    j = np.arange(h)
    by_season: dict[int, list[int]] = {}
    for i, y in enumerate(ys):
        by_season.setdefault(usable_season(y.size, season), []).append(i)
    for s, idx in by_season.items():
        out[idx] = np.stack([ys[i][-s:] for i in idx])[:, j % s]
    return out


def seasonal_naive_mae(y: np.ndarray, season: int) -> float:
    """In-sample MAE of the seasonal naive forecast: the MASE denominator (NaN when too short)."""
    if y.size <= season:
        return float("nan")
    return float(np.mean(np.abs(y[season:] - y[:-season])))


class SeasonalNaive(BaseForecaster):
    """ŷ = the value one season ago (season 1 = the last value)."""

    alias = "seasonal-naive"

    def _fit_batch(self, ys: Sequence[np.ndarray]) -> list[NaiveState]:
        return [seasonal_naive_fit(y, self.season) for y in ys]

    def _predict_state(self, state: NaiveState, h: int) -> tuple[np.ndarray, np.ndarray]:
        return seasonal_naive_predict(state, h)
