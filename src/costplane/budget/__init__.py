"""Budgets: month-to-date spend per team or project, end-of-month forecast, alert thresholds (pure),
and webhook delivery of alerts (`_webhook`, the only I/O here, kept apart)."""

from costplane.budget._budget import (
    DEFAULT_THRESHOLDS,
    Alert,
    BudgetSpec,
    BudgetStatus,
    evaluate,
    forecast_rest,
    month_bounds,
)

__all__ = ["DEFAULT_THRESHOLDS", "Alert", "BudgetSpec", "BudgetStatus", "evaluate", "forecast_rest", "month_bounds"]
