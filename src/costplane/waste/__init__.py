"""Waste findings (pure): GPU use series -> paid vs used GPU-hours, idle cost and money-saving actions.

`parse_usage_csv` reads the two accepted layouts from text, `find_waste` computes per-workload
findings (auto-stop, share the GPU, smaller GPU, spot; via costplane.placement), `waste_report`
builds the contract's JSON with totals that are exactly the sums of the rows.
"""

from costplane.waste._findings import (
    AUTO_STOP_MIN_S,
    DEFAULT_IDLE_BELOW_PCT,
    MONTH_HOURS,
    STOP_DELAY_S,
    Action,
    WasteConfig,
    WorkloadWaste,
    find_waste,
    idle_stretches,
    waste_report,
)
from costplane.waste._series import DEFAULT_INTERVAL_S, UsageSeries, intervals, parse_usage_csv, split_by_workload

__all__ = [
    "AUTO_STOP_MIN_S",
    "DEFAULT_IDLE_BELOW_PCT",
    "DEFAULT_INTERVAL_S",
    "MONTH_HOURS",
    "STOP_DELAY_S",
    "Action",
    "UsageSeries",
    "WasteConfig",
    "WorkloadWaste",
    "find_waste",
    "idle_stretches",
    "intervals",
    "parse_usage_csv",
    "split_by_workload",
    "waste_report",
]
