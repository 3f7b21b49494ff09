"""Budgets (pure): month-to-date spend, end-of-month forecast, and which alert thresholds it crosses.

For a budget of `amount_usd` per calendar month (UTC) and hourly spend y_1..y_n from the month's
start to `now_s`:

    spent    = Σ y_i
    forecast = spent + Σ ŷ_{n+1..n+h}      h = hours left in the month, ŷ clipped at 0

ŷ comes from `costplane.forecast` (ETS with a daily season of 24 h when two days are known, ETS
without season from 3 hours, else the mean hourly spend) and falls back to a least-squares linear
trend if the forecast package is missing or fails. An alert fires for each threshold t (fraction of
the amount) with `spent ≥ t × amount` (basis "actual") or, failing that, `forecast ≥ t × amount`
(basis "forecast": it will be crossed before the month ends if spend goes on like this).
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from costplane.core.errors import InputError

HOUR_S = 3600.0
DAILY_SEASON_H = 24
DEFAULT_THRESHOLDS = (0.5, 0.8, 1.0)
SCOPES = ("team", "project")


@dataclass(frozen=True, slots=True)
class BudgetSpec:
    scope: str              # team | project
    name: str
    amount_usd: float
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    webhook_url: str | None = None
    period: str = "month"

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise InputError(f"budget scope {self.scope!r} is not one of {', '.join(SCOPES)}",
                             fix="use --team NAME or --project NAME")
        if not (self.amount_usd > 0 and math.isfinite(self.amount_usd)):
            raise InputError(f"budget amount must be a positive number of USD, got {self.amount_usd!r}",
                             fix="pass --amount 10000")
        bad = [t for t in self.thresholds if not (0 < t <= 10)]
        if bad:
            raise InputError(f"alert thresholds must be fractions of the budget in (0, 10], got {bad}",
                             fix="use e.g. --thresholds 0.5,0.8,1.0")


@dataclass(frozen=True, slots=True)
class Alert:
    scope: str
    name: str
    threshold: float
    basis: str              # actual | forecast
    spent_usd: float
    forecast_usd: float
    amount_usd: float
    month: str

    @property
    def message(self) -> str:
        what = "has spent" if self.basis == "actual" else "is forecast to spend"
        value = self.spent_usd if self.basis == "actual" else self.forecast_usd
        return (f"{self.scope} {self.name} {what} ${value:,.2f} of its ${self.amount_usd:,.2f} budget for {self.month} "
                f"(≥ {self.threshold:.0%})")

    def to_dict(self) -> dict[str, Any]:
        return {"scope": self.scope, "name": self.name, "threshold": self.threshold, "basis": self.basis,
                "spent_usd": round(self.spent_usd, 2), "forecast_usd": round(self.forecast_usd, 2),
                "amount_usd": self.amount_usd, "month": self.month, "message": self.message}


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    spec: BudgetSpec
    month: str
    month_start_s: float
    month_end_s: float
    now_s: float
    spent_usd: float
    forecast_usd: float
    forecast_method: str
    alerts: tuple[Alert, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"scope": self.spec.scope, "name": self.spec.name, "amount_usd": self.spec.amount_usd,
                "month": self.month, "now_s": self.now_s, "spent_usd": round(self.spent_usd, 2),
                "forecast_usd": round(self.forecast_usd, 2),
                "forecast_fraction": round(self.forecast_usd / self.spec.amount_usd, 4),
                "forecast_method": self.forecast_method, "thresholds": list(self.spec.thresholds),
                "alerts": [a.to_dict() for a in self.alerts]}


def month_bounds(now_s: float) -> tuple[float, float, str]:
    """[start, end) of the UTC calendar month holding now_s, and its name `YYYY-MM`."""
    d = datetime.fromtimestamp(now_s, tz=timezone.utc)
    start = datetime(d.year, d.month, 1, tzinfo=timezone.utc)
    days = calendar.monthrange(d.year, d.month)[1]
    return start.timestamp(), start.timestamp() + days * 86400.0, f"{d.year:04d}-{d.month:02d}"


def _linear_trend(y: np.ndarray, h: int) -> np.ndarray:
    if len(y) < 2:
        return np.full(h, float(y.mean()) if len(y) else 0.0)
    t = np.arange(len(y), dtype=float)
    slope, intercept = np.polyfit(t, y, 1)
    return intercept + slope * np.arange(len(y), len(y) + h, dtype=float)


def forecast_rest(hourly_spend: np.ndarray, hours_left: int) -> tuple[np.ndarray, str]:
    """Predicted hourly spend for the hours left, never negative, and the method used."""
    y = np.asarray(hourly_spend, dtype=float)
    if hours_left <= 0:
        return np.zeros(0), "none (month over)"
    if len(y) == 0:
        return np.zeros(hours_left), "none (no spend yet)"
    try:
        from costplane.forecast import get_model

        if len(y) >= 2 * DAILY_SEASON_H:
            pred, method = get_model("ets", season=DAILY_SEASON_H).fit(y).predict(hours_left).mean, "ets (season 24 h)"
        elif len(y) >= 3:
            pred, method = get_model("ets", season=1).fit(y).predict(hours_left).mean, "ets (no season)"
        else:
            pred, method = np.full(hours_left, y.mean()), "mean hourly spend"
        pred = np.asarray(pred, dtype=float)
        if pred.shape != (hours_left,) or not np.all(np.isfinite(pred)):
            raise ValueError("forecast shape or values unusable")
    except (ImportError, ValueError, ArithmeticError) as exc:  # forecast package absent or failed: linear trend
        pred, method = _linear_trend(y, hours_left), f"linear trend ({type(exc).__name__})"
    except Exception as exc:  # noqa: BLE001 - a CostplaneError from the forecaster: fall back, say why
        pred, method = _linear_trend(y, hours_left), f"linear trend ({type(exc).__name__})"
    return np.clip(pred, 0.0, None), method


def evaluate(spec: BudgetSpec, hourly_spend: np.ndarray, now_s: float) -> BudgetStatus:
    """Spend so far this month (hourly_spend covers month start .. now_s), forecast, and alerts."""
    start, end, month = month_bounds(now_s)
    hours_left = max(0, math.ceil((end - now_s) / HOUR_S))
    y = np.asarray(hourly_spend, dtype=float)
    spent = float(y.sum())
    rest, method = forecast_rest(y, hours_left)
    forecast = spent + float(rest.sum())
    alerts = []
    for t in sorted(spec.thresholds):
        limit = t * spec.amount_usd
        basis = "actual" if spent >= limit else "forecast" if forecast >= limit else None
        if basis:
            alerts.append(Alert(spec.scope, spec.name, t, basis, spent, forecast, spec.amount_usd, month))
    return BudgetStatus(spec, month, start, end, now_s, spent, forecast, method, tuple(alerts))
