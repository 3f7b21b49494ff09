"""Rolling-origin backtest, defined as statsforecast's `cross_validation(h=H, n_windows=N, step_size=H)`.

For a series of length n, window w = 0 … N-1 trains on y[:c_w] and forecasts y[c_w : c_w + H] with

    c_w = n - H - (N - 1 - w) · step        (step = H: the last N non-overlapping horizons)

so the last window ends at the last observation. Worked example (n = 10, H = 2, N = 3): cutoffs 4, 6, 8;
the forecasts cover positions 4-5, 6-7, 8-9, and statsforecast's `cutoff` column is the timestamp of
position c_w - 1, the last one trained on.

Metrics, each computed per series over all its windows, then averaged over series:
- MASE = mean|y - ŷ| / mean|y_t - y_{t-S}|, the denominator over the history before the first cutoff
  (in-sample seasonal naive, season S). When that denominator is 0 (a constant or perfectly periodic history)
  an error-free forecast scores 0 and any other has no MASE: left out of the average, counted in
  `mase_excluded`.
- sMAPE in percent, 0 … 200: 200 · mean(|y - ŷ| / (|y| + |ŷ|)), a term with y = ŷ = 0 counting 0.
  (utilsforecast's `smape` is the same without the factor 200, on 0 … 1.)
- pinball: the quantile loss max(p(y - q), (p - 1)(y - q)) averaged over the requested quantiles and points,
  and `scaled_pinball`, the same divided by the MASE denominator.
- coverage: the share of actuals inside each central interval.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from costplane.core.errors import InputError
from costplane.forecast._batch import fit_many, to_batch
from costplane.forecast._ets import EtsMemo
from costplane.forecast._naive import seasonal_naive_mae
from costplane.forecast._types import DEFAULT_LEVEL, Forecast, check_horizon


@dataclass(frozen=True)
class WindowForecast:
    series: int  # index into the input list
    cutoff: int  # positions [cutoff, cutoff + h) are forecast; cutoff - 1 is the last trained on
    actual: np.ndarray
    forecast: Forecast


@dataclass(frozen=True)
class SeriesScore:
    series: int
    season: int
    mase: float
    smape: float
    pinball: float
    scaled_pinball: float
    models: tuple[str, ...]


@dataclass(frozen=True)
class BacktestResult:
    model: str
    horizon: int
    windows: int
    step_size: int
    level: tuple[int, ...]
    scores: list[SeriesScore]
    windows_out: list[WindowForecast]
    skipped: list[tuple[int, str]] = field(default_factory=list)

    @property
    def mase(self) -> float:
        vals = [s.mase for s in self.scores if np.isfinite(s.mase)]
        return float(np.mean(vals)) if vals else float("nan")

    @property
    def mase_excluded(self) -> int:
        return sum(1 for s in self.scores if not np.isfinite(s.mase))

    @property
    def smape(self) -> float:
        return float(np.mean([s.smape for s in self.scores])) if self.scores else float("nan")

    @property
    def pinball(self) -> float:
        return float(np.mean([s.pinball for s in self.scores])) if self.scores else float("nan")

    @property
    def scaled_pinball(self) -> float:
        vals = [s.scaled_pinball for s in self.scores if np.isfinite(s.scaled_pinball)]
        return float(np.mean(vals)) if vals else float("nan")

    def coverage(self) -> dict[int, float]:
        out = {}
        for lv in self.level:
            inside = [((w.actual >= w.forecast.lo[lv]) & (w.actual <= w.forecast.hi[lv])).mean()
                      for w in self.windows_out]
            out[lv] = float(np.mean(inside)) if inside else float("nan")
        return out

    def model_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for w in self.windows_out:
            counts[w.forecast.model] = counts.get(w.forecast.model, 0) + 1
        return counts


def cutoffs(n: int, h: int, n_windows: int, step_size: int | None = None) -> list[int]:
    """Training lengths of each window, oldest first (see the module docstring)."""
    step = step_size or h
    return [n - h - (n_windows - 1 - w) * step for w in range(n_windows)]


def min_history(season: int) -> int:
    """Shortest training history the first window may have: one seasonal difference plus one point."""
    return max(season + 2, 3)


def smape_pct(actual: np.ndarray, pred: np.ndarray) -> float:
    denom = np.abs(actual) + np.abs(pred)
    terms = np.divide(np.abs(actual - pred), denom, out=np.zeros_like(denom), where=denom > 0)
    return float(200.0 * terms.mean())


def pinball_loss(actual: np.ndarray, quantiles: dict[float, np.ndarray]) -> float:
    losses = [np.maximum(p * (actual - q), (p - 1) * (actual - q)).mean() for p, q in quantiles.items()]
    return float(np.mean(losses))


def backtest(series: Sequence[np.ndarray], h: int, n_windows: int, model: str = "auto",
             seasons: int | Sequence[int] = 1, level: Sequence[float] = DEFAULT_LEVEL,
             step_size: int | None = None, season2s: Sequence[int | None] | None = None,
             on_window: Callable[[int], None] | None = None) -> BacktestResult:
    """Rolling-origin backtest of `model` on every series; too-short series are skipped and listed.

    `on_window(w)` is called after each window is forecast (a progress hook for adapters).
    """
    h = check_horizon(h)
    if int(n_windows) != n_windows or n_windows < 1:
        raise InputError(f"windows {n_windows} is not a positive integer", fix="pass --windows >= 1")
    step = step_size or h
    ys = [np.asarray(y, dtype=float) for y in series]
    per = [int(seasons)] * len(ys) if isinstance(seasons, (int, np.integer)) else [int(s) for s in seasons]
    s2 = list(season2s) if season2s is not None else [None] * len(ys)
    valid, skipped = [], []
    for i, y in enumerate(ys):
        first = cutoffs(y.size, h, n_windows, step)[0]
        need = min_history(per[i])
        if first < need:
            skipped.append((i, f"{y.size} points; {n_windows} windows of {h} need at least "
                               f"{need + h + (n_windows - 1) * step}"))
        else:
            valid.append(i)
    window_out: list[WindowForecast] = []
    memo = EtsMemo()  # `auto` validates on prefixes earlier cutoffs trained on: fit each once
    for w in range(n_windows):
        groups: dict[tuple[int, int | None], list[int]] = {}
        for i in valid:
            groups.setdefault((per[i], s2[i]), []).append(i)
        for (season, season2), idx in groups.items():
            trains = [ys[i][: cutoffs(ys[i].size, h, n_windows, step)[w]] for i in idx]
            values, indptr = to_batch(trains)
            fitted = fit_many(model, values, indptr, seasons=season, season2=season2, horizon=h, memo=memo)
            for i, m, tr in zip(idx, fitted, trains):
                c = tr.size
                window_out.append(WindowForecast(i, c, ys[i][c:c + h], m.predict(h, level)))
        if on_window is not None:
            on_window(w)
    window_out.sort(key=lambda x: (x.series, x.cutoff))
    scores = []
    for i in valid:
        ws = [x for x in window_out if x.series == i]
        actual = np.concatenate([x.actual for x in ws])
        mean = np.concatenate([x.forecast.mean for x in ws])
        quant = {p: np.concatenate([x.forecast.quantiles[p] for x in ws]) for p in ws[0].forecast.quantiles}
        scale = seasonal_naive_mae(ys[i][: ws[0].cutoff], per[i])
        mae = float(np.abs(actual - mean).mean())
        # A perfect forecast of a history the seasonal naive also fits perfectly scores 0 (0/0 := 0).
        mase = mae / scale if scale > 0 else (0.0 if mae == 0 else float("nan"))
        pin = pinball_loss(actual, quant)
        scores.append(SeriesScore(i, per[i], mase, smape_pct(actual, mean), pin,
                                  pin / scale if scale > 0 else float("nan"),
                                  tuple(x.forecast.model for x in ws)))
    lv = tuple(int(x) if float(x).is_integer() else x for x in level)
    return BacktestResult(model, h, int(n_windows), step, lv, scores, window_out, skipped)
