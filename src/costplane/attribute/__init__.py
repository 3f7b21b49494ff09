"""Cost attribution (pure): priced assets + workload allocations -> a CostSet with idle kept separate.

`allocate(assets, allocations, window)` charges each workload max(request, usage) × unit price per
resource; what no workload claimed is idle (a CostKind, not a name suffix); unpriced nodes stay
visible. `aggregate(set, by)` groups by team, project, workload or node; `share_idle` spreads idle
back over allocations; `to_cents` rounds to cents keeping the sum exact.
"""

from costplane.attribute._allocate import Allocation, AllocationIndex, Asset, allocate
from costplane.attribute._build import series_allocations
from costplane.attribute._priced import BillLines, SeriesUse, bill_is_idle
from costplane.attribute._properties import property_labels, with_properties
from costplane.attribute._split import (
    CPU_USD_PER_VCPU_HOUR,
    MAX_HOST_SHARE,
    RAM_USD_PER_GIB_HOUR,
    UnitPrices,
    split_node_price,
)
from costplane.attribute._timeline import spend_timeline
from costplane.attribute._types import (
    GROUP_BYS,
    LABEL_PREFIX,
    MICRO_PER_USD,
    PROPERTY_BYS,
    CostKind,
    CostRow,
    CostSet,
    Window,
    aggregate,
    apportion,
    group_keys,
    share_idle,
    to_cents,
)

__all__ = [
    "CPU_USD_PER_VCPU_HOUR",
    "GROUP_BYS",
    "LABEL_PREFIX",
    "MAX_HOST_SHARE",
    "MICRO_PER_USD",
    "PROPERTY_BYS",
    "RAM_USD_PER_GIB_HOUR",
    "Allocation",
    "AllocationIndex",
    "Asset",
    "BillLines",
    "CostKind",
    "CostRow",
    "CostSet",
    "SeriesUse",
    "UnitPrices",
    "Window",
    "aggregate",
    "allocate",
    "apportion",
    "bill_is_idle",
    "group_keys",
    "property_labels",
    "series_allocations",
    "share_idle",
    "spend_timeline",
    "split_node_price",
    "to_cents",
    "with_properties",
]
