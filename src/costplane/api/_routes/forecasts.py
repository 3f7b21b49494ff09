"""Forecasts of a posted series, and rolling-origin backtests (costplane.forecast)."""

from __future__ import annotations

from fastapi import APIRouter

from costplane.api import _analytics
from costplane.api._deps import Viewer
from costplane.api._errors import error_responses
from costplane.api._schemas import BacktestCreate, BacktestPublic, ForecastCreate, ForecastPublic

router = APIRouter(tags=["forecasts"], responses=error_responses(400, 401, 403, 422))


@router.post("/forecasts", response_model=ForecastPublic)
def create_forecast(_: Viewer, body: ForecastCreate) -> dict:
    """Point forecast and prediction intervals for the next `horizon` steps."""
    return _analytics.forecast_series(body.values, body.horizon, body.model, body.season, body.level)


@router.post("/forecasts/backtests", response_model=BacktestPublic)
def create_backtest(_: Viewer, body: BacktestCreate) -> dict:
    """Rolling-origin backtest (statsforecast's cross_validation with step = horizon): MASE and sMAPE."""
    return _analytics.backtest_series(body.series, body.horizon, body.windows, body.model, body.season)
