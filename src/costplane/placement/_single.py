"""Cheapest placement of one request: candidates -> rank, pure and exact.

For one request the optimum needs no solver: cost(offer, purchase) = price × nodes × hours is
separable, so the cheapest feasible (offer, on-demand|spot) pair is the minimum of a filtered
vector (SkyPilot also takes the exact path for the easy case and keeps the ILP for fleets).
When nothing fits, `explain_infeasible` relaxes the constraints one by one, in the order a user
states them, and names the first one that empties the candidate set.
"""

from __future__ import annotations

import numpy as np

from costplane.core.errors import InfeasibleError
from costplane.core.gpus import resolve_gpu
from costplane.core.types import Catalog
from costplane.placement._request import (
    DATACENTER_GPUS,
    HOST_NODE_FLOOR,
    HOST_PER_GPU,
    Placement,
    PlacementRequest,
)


def _masks(request: PlacementRequest, catalog: Catalog) -> list[tuple[str, np.ndarray]]:
    """Named feasibility masks over catalog rows, in the order used to explain infeasibility."""
    df = catalog.frame
    n = len(df)
    masks: list[tuple[str, np.ndarray]] = []
    if request.gpu is not None:
        gpu = resolve_gpu(request.gpu, catalog.gpu_models)
        masks.append((f"GPU model {gpu}", (df["gpu"] == gpu).to_numpy()))
    if request.min_gpu_memory_gib > 0:
        masks.append((f"GPU memory >= {request.min_gpu_memory_gib:g} GiB",
                      (df["gpu_memory_gib"] >= request.min_gpu_memory_gib).to_numpy()))
    if request.clouds:
        masks.append((f"cloud in {', '.join(request.clouds)}", df["cloud"].isin(request.clouds).to_numpy()))
    if request.regions:
        masks.append((f"region in {', '.join(request.regions)}", df["region"].isin(request.regions).to_numpy()))
    masks.append((f"{request.gpus_per_node} GPUs per node", (df["gpus"] == request.gpus_per_node).to_numpy()))
    if request.min_vcpus > 0:
        masks.append((f">= {request.min_vcpus:g} vCPUs per node", (df["vcpus"] >= request.min_vcpus).to_numpy()))
    if request.min_memory_gib > 0:
        masks.append((f">= {request.min_memory_gib:g} GiB memory per node",
                      (df["memory_gib"] >= request.min_memory_gib).to_numpy()))
    if request.host_minimums:
        dc = df["gpu"].isin(DATACENTER_GPUS).to_numpy()
        per = np.where(dc[:, None], HOST_PER_GPU["datacenter"], HOST_PER_GPU["other"]) * request.gpus_per_node
        need = np.maximum(per, HOST_NODE_FLOOR)  # host_minimums(), for every row at once
        vcpus, mem = df["vcpus"].to_numpy(dtype=float), df["memory_gib"].to_numpy(dtype=float)
        unknown = ~(vcpus > 0) | ~(mem > 0)  # a catalog without host sizes is not second-guessed
        ok = unknown | ((vcpus >= np.maximum(need[:, 0], request.min_vcpus) - 1e-9)
                        & (mem >= np.maximum(need[:, 1], request.min_memory_gib) - 1e-9))
        masks.append(("a host of at least 4 vCPUs and 16 GiB per datacenter GPU (2 and 8 per smaller GPU, "
                      "4 and 16 a node)", ok))
    priced = df["price_usd_per_hour"].notna().to_numpy()
    if request.spot:
        priced = priced | df["spot_price_usd_per_hour"].notna().to_numpy()
    masks.append(("an on-demand price" if not request.spot else "an on-demand or spot price", priced))
    assert all(len(m) == n for _, m in masks)
    return masks


def _explain(request: PlacementRequest, catalog: Catalog, masks: list[tuple[str, np.ndarray]]) -> str:
    df = catalog.frame
    ok = np.ones(len(df), dtype=bool)
    for name, mask in masks:
        narrowed = ok & mask
        if not narrowed.any():
            hint = ""
            if "GPUs per node" in name:
                counts = sorted(set(df.loc[ok, "gpus"].tolist()))
                hint = f" (offers that meet the rest have {', '.join(map(str, counts))} GPUs per node)"
            elif name.startswith("region"):
                hint = f" (regions that meet the rest: {', '.join(sorted(set(df.loc[ok, 'region']))[:10])})"
            elif name.startswith("cloud"):
                hint = f" (clouds that meet the rest: {', '.join(sorted(set(df.loc[ok, 'cloud'])))})"
            elif "vCPUs" in name:
                hint = f" (at most {df.loc[ok, 'vcpus'].max():g} vCPUs among the rest)"
            elif "memory per node" in name:
                hint = f" (at most {df.loc[ok, 'memory_gib'].max():g} GiB among the rest)"
            elif "GPU memory" in name:
                hint = f" (the largest GPU has {df['gpu_memory_gib'].max():g} GiB)"
            return f"no offer meets {name}{hint}"
        ok = narrowed
    return "no offer meets every constraint"


def feasible_rows(request: PlacementRequest, catalog: Catalog) -> np.ndarray:
    """Indices of catalog rows that meet every constraint of `request` (prices not yet chosen)."""
    masks = _masks(request, catalog)
    ok = np.logical_and.reduce([m for _, m in masks])
    rows = np.flatnonzero(ok)
    if rows.size == 0:
        raise InfeasibleError(_explain(request, catalog, masks), fix="relax that constraint or widen --cloud/--region")
    return rows


def price_options(request: PlacementRequest, catalog: Catalog, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row index, spot flag, hourly price of all nodes) for every priced option of the given rows."""
    df = catalog.frame
    on_demand = df["price_usd_per_hour"].to_numpy()[rows]
    idx = [rows[~np.isnan(on_demand)]]
    spot_flags = [np.zeros(idx[0].size, dtype=bool)]
    prices = [on_demand[~np.isnan(on_demand)]]
    if request.spot:
        spot = df["spot_price_usd_per_hour"].to_numpy()[rows]
        has = ~np.isnan(spot)
        idx.append(rows[has])
        spot_flags.append(np.ones(int(has.sum()), dtype=bool))
        prices.append(spot[has])
    return np.concatenate(idx), np.concatenate(spot_flags), np.concatenate(prices) * request.nodes


def _placement(catalog: Catalog, request: PlacementRequest, row: int, spot: bool, hourly: float) -> Placement:
    o = catalog.offers[row]
    return Placement(o.cloud, o.region, o.zone, o.instance_type, o.gpu, o.gpus, request.nodes, bool(spot),
                     float(hourly), float(hourly) * request.hours, offer_index=int(row))


def place(request: PlacementRequest, catalog: Catalog, limit: int | None = 20) -> list[Placement]:
    """Feasible placements ranked by total cost, cheapest first (ties: on-demand before spot, then name)."""
    rows = feasible_rows(request, catalog)
    idx, spot, hourly = price_options(request, catalog, rows)
    if idx.size == 0:
        raise InfeasibleError("no offer meets the request with a known price",
                              fix="allow spot with --spot or choose another GPU")
    order = np.lexsort((idx, spot, hourly))
    if limit is not None:
        order = order[:limit]
    return [_placement(catalog, request, int(idx[k]), bool(spot[k]), float(hourly[k])) for k in order]
