"""Core types, units and errors shared by every costplane package; imports no adapter."""

from costplane.core.errors import (
    CatalogError,
    CostplaneError,
    InfeasibleError,
    InputError,
    NotFittedError,
    StoreError,
    UnknownGpuError,
)
from costplane.core.types import Catalog, Offer

__all__ = [
    "Catalog",
    "CatalogError",
    "CostplaneError",
    "InfeasibleError",
    "InputError",
    "NotFittedError",
    "Offer",
    "StoreError",
    "UnknownGpuError",
]
