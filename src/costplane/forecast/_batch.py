"""Many series as one `(values, indptr)` batch (statsforecast's layout): series i is values[indptr[i]:indptr[i+1]].

`fit_many` / `forecast_many` group the series by season and run each model's batch kernel once per group,
so ETS fits thousands of series in one vectorised recursion.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np

from costplane.core.errors import InputError
from costplane.forecast._auto import Auto
from costplane.forecast._combination import Combination
from costplane.forecast._ensemble import Ensemble
from costplane.forecast._ets import ETS
from costplane.forecast._linear import Linear
from costplane.forecast._naive import SeasonalNaive
from costplane.forecast._types import DEFAULT_LEVEL, BaseForecaster, Forecast, as_series, check_horizon

MODELS: dict[str, type[BaseForecaster]] = {m.alias: m for m in (Ensemble, SeasonalNaive, ETS, Linear, Combination, Auto)}
DEFAULT_MODEL = Auto.alias  # what `forecast backtest|predict|fit` run without --model


def get_model(name: str, season: int = 1, **options: Any) -> BaseForecaster:
    """A model by alias; options a model does not take (e.g. `horizon` for ets) are ignored."""
    cls = MODELS.get(name)
    if cls is None:
        raise InputError(f"unknown forecast model '{name}'", fix=f"use one of {', '.join(MODELS)}")
    accepted = inspect.signature(cls.__init__).parameters
    return cls(season=season, **{k: v for k, v in options.items() if k in accepted and v is not None})


def to_batch(series: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    arrays = [as_series(y, f"series {i}") for i, y in enumerate(series)]
    indptr = np.zeros(len(arrays) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([a.size for a in arrays])
    values = np.concatenate(arrays) if arrays else np.zeros(0)
    return values, indptr


def split(values: np.ndarray, indptr: np.ndarray) -> list[np.ndarray]:
    values = np.asarray(values, dtype=float)
    indptr = np.asarray(indptr, dtype=np.int64)
    if indptr.ndim != 1 or indptr.size < 1 or indptr[0] != 0 or indptr[-1] != values.size or np.any(np.diff(indptr) < 1):
        raise InputError("indptr must start at 0, end at len(values) and strictly increase",
                         fix="build the batch with costplane.forecast.to_batch(list_of_series)")
    return [as_series(values[indptr[i]:indptr[i + 1]], f"series {i}") for i in range(indptr.size - 1)]


def _seasons_for(model: BaseForecaster | str, count: int, seasons: int | Sequence[int] | None) -> list[int]:
    if seasons is None:
        return [model.season if isinstance(model, BaseForecaster) else 1] * count
    if isinstance(seasons, (int, np.integer)):
        return [int(seasons)] * count
    seasons = [int(s) for s in seasons]
    if len(seasons) != count:
        raise InputError(f"{len(seasons)} seasons for {count} series", fix="pass one season per series")
    return seasons


def _model_for(model: BaseForecaster | str, season: int, **options: Any) -> BaseForecaster:
    if isinstance(model, str):
        return get_model(model, season=season, **options)
    params = {**model.params(), "season": season}
    params.update({k: v for k, v in options.items() if k in params and v is not None})
    return type(model)(**params)


def fit_many(model: BaseForecaster | str, values: np.ndarray, indptr: np.ndarray,
             seasons: int | Sequence[int] | None = None, **options: Any) -> list[BaseForecaster]:
    """Fit one model per series; returns fitted models in series order (each answers `.predict`)."""
    ys = split(values, indptr)
    per = _seasons_for(model, len(ys), seasons)
    out: list[BaseForecaster | None] = [None] * len(ys)
    for season in sorted(set(per)):
        idx = [i for i, s in enumerate(per) if s == season]
        proto = _model_for(model, season, **options)
        for i, state in zip(idx, proto._fit_batch([ys[i] for i in idx])):
            out[i] = proto._with_state(state, bool((ys[i] >= 0).all()))
    return out  # type: ignore[return-value]


def forecast_many(model: BaseForecaster | str, values: np.ndarray, indptr: np.ndarray, h: int,
                  level: Sequence[float] = DEFAULT_LEVEL, seasons: int | Sequence[int] | None = None,
                  **options: Any) -> list[Forecast]:
    h = check_horizon(h)
    return [m.predict(h, level) for m in fit_many(model, values, indptr, seasons, **options)]
