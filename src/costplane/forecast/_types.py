"""The one forecaster protocol of the project, its value types (`Forecast`: mean + quantiles) and the model base.

`Forecaster` is the protocol every forecaster follows, here and in `costplane.autoscale` (statsforecast's
`fit(y) -> self`, `predict(h, level) -> a forecast with .mean and .quantile(p)`). The models of this package
implement two batch kernels (module-level functions in its own module) and inherit `fit` / `predict` /
`forecast` from `BaseForecaster`, so fit+predict == forecast == one row of `forecast_many` by construction
(many series travel as `(values, indptr)`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from costplane.core.errors import InputError, NotFittedError

DEFAULT_LEVEL: tuple[int, ...] = (80, 95)


class Prediction(Protocol):
    """What a forecaster's `predict` returns: the point forecast and any quantile of its distribution."""

    mean: np.ndarray

    def quantile(self, p: float) -> np.ndarray: ...


@runtime_checkable
class Forecaster(Protocol):
    """The forecaster protocol: `fit(y)` returns the fitted forecaster, `predict(h, level)` a `Prediction`."""

    def fit(self, y: Any) -> Forecaster: ...

    def predict(self, h: int, level: Sequence[float] = ...) -> Prediction: ...


def level_probs(level: Sequence[float]) -> list[float]:
    """Quantile probabilities a set of central intervals needs: level 80 -> 0.1 and 0.9 (plus the median)."""
    probs = {0.5}
    for lv in level:
        if not 0 < float(lv) < 100:
            raise InputError(f"prediction level {lv} is outside (0, 100)", fix="pass levels such as 80 or 95")
        probs.add(round(0.5 - float(lv) / 200, 6))
        probs.add(round(0.5 + float(lv) / 200, 6))
    return sorted(probs)


@dataclass(frozen=True)
class Forecast:
    """An h-step forecast of one series.

    `mean` (h,), `sd` (h,) the forecast standard deviation, `quantiles` {probability: (h,)} for the
    requested levels (0.1/0.9 for level 80, 0.025/0.975 for 95, and 0.5), `lo`/`hi` {level: (h,)}.
    Demand that was never negative is never forecast negative: everything is clipped at 0.
    """

    mean: np.ndarray
    sd: np.ndarray
    level: tuple[int, ...]
    quantiles: dict[float, np.ndarray]
    lo: dict[int, np.ndarray]
    hi: dict[int, np.ndarray]
    nonnegative: bool = False
    model: str = ""
    # An empirical error distribution instead of the normal one: quantile p of step j is
    # mean[j] + interp(p, ERROR_PROBS, errors[j]) (errors (h, len(ERROR_PROBS)), non-decreasing per row).
    errors: np.ndarray | None = None

    @classmethod
    def from_normal(cls, mean: np.ndarray, sd: np.ndarray, level: Sequence[float] = DEFAULT_LEVEL,
                    nonnegative: bool = False, model: str = "") -> Forecast:
        mean = np.asarray(mean, dtype=float)
        sd = np.maximum(np.asarray(sd, dtype=float), 0.0)
        lv = tuple(int(x) if float(x).is_integer() else x for x in level)
        quantiles = {p: _clip(mean + NormalDist().inv_cdf(p) * sd, nonnegative) for p in level_probs(lv)}
        lo = {x: quantiles[round(0.5 - float(x) / 200, 6)] for x in lv}
        hi = {x: quantiles[round(0.5 + float(x) / 200, 6)] for x in lv}
        return cls(_clip(mean, nonnegative), sd, lv, quantiles, lo, hi, nonnegative, model)

    @classmethod
    def from_errors(cls, mean: np.ndarray, errors: np.ndarray, level: Sequence[float] = DEFAULT_LEVEL,
                    nonnegative: bool = False, model: str = "") -> Forecast:
        """Quantiles from an empirical error distribution: `errors` (h, len(ERROR_PROBS)) error quantiles."""
        mean = np.asarray(mean, dtype=float)
        errors = np.maximum.accumulate(np.asarray(errors, dtype=float), axis=1)
        sd = (errors[:, _P84] - errors[:, _P16]) / 2  # the normal-equivalent spread, for display
        lv = tuple(int(x) if float(x).is_integer() else x for x in level)
        quantiles = {p: _clip(mean + _error_quantile(errors, p), nonnegative) for p in level_probs(lv)}
        lo = {x: quantiles[round(0.5 - float(x) / 200, 6)] for x in lv}
        hi = {x: quantiles[round(0.5 + float(x) / 200, 6)] for x in lv}
        return cls(_clip(mean, nonnegative), sd, lv, quantiles, lo, hi, nonnegative, model, errors)

    @property
    def h(self) -> int:
        return int(self.mean.shape[0])

    def quantile(self, p: float) -> np.ndarray:
        """Any quantile of the forecast distribution (normal or empirical), e.g. 0.99 for a capacity headroom."""
        if not 0 < p < 1:
            raise InputError(f"quantile probability {p} is outside (0, 1)", fix="pass e.g. 0.9")
        if self.errors is not None:
            return _clip(self.mean + _error_quantile(self.errors, p), self.nonnegative)
        return _clip(self.mean + NormalDist().inv_cdf(p) * self.sd, self.nonnegative)


# The probabilities an empirical error distribution is kept at (0.5 % steps, plus the tails' 0.1 %).
ERROR_PROBS = np.concatenate([[0.001], np.linspace(0.005, 0.995, 199), [0.999]])
_P16, _P84 = int(np.argmin(np.abs(ERROR_PROBS - 0.16))), int(np.argmin(np.abs(ERROR_PROBS - 0.84)))


def _error_quantile(errors: np.ndarray, p: float) -> np.ndarray:
    """Quantile p of each row of an (h, len(ERROR_PROBS)) error-quantile table (linear, clamped at the ends)."""
    k = int(np.clip(np.searchsorted(ERROR_PROBS, p), 1, ERROR_PROBS.size - 1))
    w = float(np.clip((p - ERROR_PROBS[k - 1]) / (ERROR_PROBS[k] - ERROR_PROBS[k - 1]), 0.0, 1.0))
    return errors[:, k - 1] * (1 - w) + errors[:, k] * w


def _clip(x: np.ndarray, nonnegative: bool) -> np.ndarray:
    return np.maximum(x, 0.0) if nonnegative else x


def as_series(y: Any, what: str = "y") -> np.ndarray:
    arr = np.asarray(y, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise InputError(f"{what} must be a non-empty 1-D array, got shape {arr.shape}", fix="pass one series")
    if not np.isfinite(arr).all():
        i = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise InputError(f"{what} has a missing or infinite value at position {i}",
                         fix="fill gaps before fitting")
    return arr


def check_horizon(h: int) -> int:
    if int(h) != h or h < 1:
        raise InputError(f"horizon {h} is not a positive integer", fix="pass h >= 1")
    return int(h)


class BaseForecaster:
    """Base of every model here (a `Forecaster`): `fit(y) -> self`, `predict(h, level) -> Forecast`, `forecast(y, h)`.

    Subclasses set `alias` and implement the batch kernels `_fit_batch(ys) -> list[state]` and
    `_predict_state(state, h) -> (mean, sd)`. State is a small per-series value; the model holds one.
    """

    alias: ClassVar[str] = ""

    def __init__(self, season: int = 1) -> None:
        if int(season) != season or season < 1:
            raise InputError(f"season {season} is not a positive integer", fix="pass season >= 1 (1 = none)")
        self.season = int(season)
        self._state: Any = None
        self._nonnegative = False

    # -- kernels (batch) -------------------------------------------------------------------------
    def _fit_batch(self, ys: Sequence[np.ndarray]) -> list[Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _predict_state(self, state: Any, h: int) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def _state_model(self, state: Any) -> str:
        return self.alias

    # -- protocol -----------------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        return {"season": self.season}

    def clone(self) -> BaseForecaster:
        return type(self)(**self.params())

    def fit(self, y: Any) -> BaseForecaster:
        arr = as_series(y)
        self._state = self._fit_batch([arr])[0]
        self._nonnegative = bool((arr >= 0).all())
        return self

    def _with_state(self, state: Any, nonnegative: bool) -> BaseForecaster:
        m = self.clone()
        m._state, m._nonnegative = state, nonnegative
        return m

    @property
    def fitted(self) -> bool:
        return self._state is not None

    @property
    def state(self) -> Any:
        """The fitted per-series state (parameters and final states), for inspection."""
        self._require_fitted()
        return self._state

    def _require_fitted(self) -> None:
        if self._state is None:
            raise NotFittedError(f"{self.alias} model was asked to predict before it was fitted",
                                 fix="call .fit(y) first, or use .forecast(y, h)")

    def predict(self, h: int, level: Sequence[float] = DEFAULT_LEVEL) -> Forecast:
        self._require_fitted()
        h = check_horizon(h)
        out = self._predict_state(self._state, h)
        if len(out) == 3:  # (mean, sd, error quantiles): an empirical distribution
            return Forecast.from_errors(out[0], out[2], level, self._nonnegative, self._state_model(self._state))
        mean, sd = out
        return Forecast.from_normal(mean, sd, level, self._nonnegative, self._state_model(self._state))

    def forecast(self, y: Any, h: int, level: Sequence[float] = DEFAULT_LEVEL) -> Forecast:
        """Fit on y and predict h steps, leaving this instance untouched."""
        return self.clone().fit(y).predict(h, level)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"
