"""Demand forecasting: `auto` (default) over ensemble, seasonal-naive, ETS, linear and their combination.

Pure numerics (no I/O, no clock). Every model is an instance with a unique `alias` and the statsforecast
protocol::

    from costplane.forecast import get_model
    fc = get_model("ets", season=60).fit(y).predict(h=30, level=(80, 95))
    fc.mean            # (30,) point forecast
    fc.hi[95]          # (30,) upper end of the 95 % interval (== fc.quantiles[0.975])
    fc.quantile(0.99)  # any quantile of the forecast distribution
    get_model("ets", season=60).forecast(y, h=30)   # stateless: fit + predict, model untouched

An unfitted model raises `NotFittedError`. Demand that was never negative is never forecast negative.
Many series travel as one `(values, indptr)` batch: `fit_many`, `forecast_many`, `to_batch`, `split`.
`backtest(series, h, n_windows, model, seasons)` is statsforecast's
`cross_validation(h, n_windows, step_size=h)` with MASE, sMAPE (percent, 0-200) and pinball loss.
`detect_season(y, freq_s)` picks S from the autocorrelation at calendar lags (minute, hour, day, week).
The long-format table (`unique_id, ds, y`) is turned into regular series by `prepare_long`.
"""

from __future__ import annotations

from costplane.forecast._auto import Auto
from costplane.forecast._backtest import BacktestResult, SeriesScore, WindowForecast, backtest, cutoffs
from costplane.forecast._batch import DEFAULT_MODEL, MODELS, fit_many, forecast_many, get_model, split, to_batch
from costplane.forecast._combination import Combination
from costplane.forecast._ensemble import Ensemble
from costplane.forecast._ets import ETS
from costplane.forecast._linear import Linear
from costplane.forecast._naive import SeasonalNaive, seasonal_naive_mae
from costplane.forecast._season import detect_season, secondary_season
from costplane.forecast._series import SeriesSet, prepare_columns, prepare_long
from costplane.forecast._types import DEFAULT_LEVEL, BaseForecaster, Forecast, Forecaster, Prediction

__all__ = [
    "Combination", "DEFAULT_LEVEL", "DEFAULT_MODEL", "ETS", "Ensemble", "MODELS", "Auto", "BacktestResult", "BaseForecaster", "Forecast", "Forecaster", "Linear",
    "Prediction",
    "SeasonalNaive", "SeriesScore", "SeriesSet", "WindowForecast", "backtest", "cutoffs", "detect_season",
    "fit_many", "forecast_many", "get_model", "prepare_columns", "prepare_long", "seasonal_naive_mae", "secondary_season",
    "split", "to_batch",
]
