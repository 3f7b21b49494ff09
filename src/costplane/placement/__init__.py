"""Placement: the cheapest offer for one request (exact, vectorised) and fleet plans as a MILP (HiGHS)."""

from costplane.placement._fleet import (
    FleetPlan,
    FleetSpec,
    Quota,
    Workload,
    naive_cost,
    parse_fleet_spec,
    plan_fleet,
    read_fleet_spec,
)
from costplane.placement._request import Placement, PlacementRequest, host_minimums
from costplane.placement._single import feasible_rows, place, price_options

__all__ = [
    "FleetPlan",
    "FleetSpec",
    "Placement",
    "PlacementRequest",
    "host_minimums",
    "Quota",
    "Workload",
    "feasible_rows",
    "naive_cost",
    "parse_fleet_spec",
    "place",
    "plan_fleet",
    "price_options",
    "read_fleet_spec",
]
