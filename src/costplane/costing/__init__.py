"""The one cost path (adapter): the store's bill lines and GPU series, priced from the catalog, into allocations.

`load_costs(store, catalog, start_s, end_s, ...)` reads the store (SQL does the heavy aggregation)
and prices every GPU series at its node's instance type (`_pricing`), returning `Costs`, whose
`cost_set(window)` is the pure `costplane.attribute` CostSet of any window. Every surface reads it:
`costplane cost | waste | budget | report`, the API (/cost, /spend, budgets), the dashboard and
/metrics, through the views in `_views` (`cost_view`, `spend_buckets`, `hourly_spend`).
Demo rows (`source = demo-seed`) are read only with `include_demo=True`; budgets never pass it.
"""

from costplane.costing._charges import StoreLedger, month_spend, set_month_budget
from costplane.costing._pricing import Price, Pricer
from costplane.costing._store import (
    CHARGE_SOURCES,
    DEMO_SOURCE,
    EMPTY_FIX,
    Costs,
    holds_demo,
    load_costs,
    newest_data_s,
    series_buckets,
)
from costplane.costing._views import UNPRICED_KEY, cost_view, hourly_spend, iso, scoped, spend_buckets
from costplane.costing._waste import store_waste

__all__ = [
    "CHARGE_SOURCES",
    "DEMO_SOURCE",
    "EMPTY_FIX",
    "UNPRICED_KEY",
    "Costs",
    "Price",
    "Pricer",
    "StoreLedger",
    "cost_view",
    "holds_demo",
    "hourly_spend",
    "iso",
    "month_spend",
    "load_costs",
    "newest_data_s",
    "scoped",
    "series_buckets",
    "set_month_budget",
    "spend_buckets",
    "store_waste",
]
