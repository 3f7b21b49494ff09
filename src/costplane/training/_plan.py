"""Training plan: the GPU model x count x offer x on-demand/spot that finishes a job at least expected cost.

For every option o = (offer, purchase p in {on-demand, spot}, nodes k), with g = GPUs per node of the
offer and n = k g GPUs in all,

    compute_s(o) = work / T_model(n)                                  (fitted curve, `_throughput`)
    hours(o)     = E[wall](compute_s, lam = k * rate_p(offer), interval, restore) / 3600   (`_spot`)
    cost(o)      = k * price_p(offer) * hours(o)

and the plan is  argmin_o cost(o)  subject to  hours(o) <= deadline,  memory(gpu) >= memory_gib_per_gpu,
n within the curve's trusted range, g >= min_gpus_per_node, k <= max_nodes. Ties: fewer hours, then on-demand, then names (deterministic).

No solver is needed: options are enumerated and ranked with numpy. Before expanding node counts,
offers are pruned exactly: within one (gpu, g, purchase, rate) group every option with k nodes has
the same hours, so only the cheapest offer of the group can win (SkyPilot prunes the same way).
The frontier is the Pareto set of (hours, cost) over all options, sorted by hours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from costplane.core.errors import InfeasibleError, InputError, UnknownGpuError
from costplane.core.gpus import GPU_MEMORY_GIB, resolve_gpu
from costplane.core.types import Catalog
from costplane.training._profile import JobProfile
from costplane.training._spot import expected_wall_s, interruptions_per_hour
from costplane.training._throughput import ScalingCurve, fit_curve

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class PlanOption:
    cloud: str
    region: str
    zone: str | None
    instance_type: str
    gpu: str
    gpus: int  # all nodes together
    gpus_per_node: int
    nodes: int
    spot: bool
    hourly_usd: float  # all nodes together
    interruptions_per_hour: float  # whole job (nodes x per-node rate); 0 on demand
    compute_hours: float  # without interruptions
    expected_hours: float
    expected_cost_usd: float
    extrapolated: bool

    def choice_dict(self) -> dict[str, Any]:
        return {"cloud": self.cloud, "region": self.region, "zone": self.zone, "instance_type": self.instance_type,
                "gpu": self.gpu, "gpus": self.gpus, "gpus_per_node": self.gpus_per_node, "nodes": self.nodes,
                "spot": self.spot, "hourly_usd": self.hourly_usd}

    def frontier_dict(self) -> dict[str, Any]:
        return {"gpu": self.gpu, "gpus": self.gpus, "spot": self.spot, "expected_hours": self.expected_hours,
                "expected_cost_usd": self.expected_cost_usd, "nodes": self.nodes, "cloud": self.cloud,
                "region": self.region, "instance_type": self.instance_type, "extrapolated": self.extrapolated}


@dataclass(frozen=True)
class TrainingPlan:
    profile_name: str
    deadline_s: float | None
    choice: PlanOption
    frontier: tuple[PlanOption, ...]
    curves: dict[str, ScalingCurve]
    options_considered: int
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile_name,
            "choice": self.choice.choice_dict(),
            "expected_hours": self.choice.expected_hours,
            "expected_cost_usd": self.choice.expected_cost_usd,
            "deadline_hours": None if self.deadline_s is None else self.deadline_s / SECONDS_PER_HOUR,
            "frontier": [o.frontier_dict() for o in self.frontier],
            "throughput_models": {g: c.to_dict() for g, c in self.curves.items()},
            "options_considered": self.options_considered,
            "warnings": list(self.warnings),
        }


def fit_profile_curves(profile: JobProfile, catalog: Catalog) -> tuple[dict[str, ScalingCurve], list[str]]:
    """One curve per GPU model the job can use; models that cannot be used are skipped with a warning."""
    known = tuple(sorted(set(catalog.gpu_models) | set(GPU_MEMORY_GIB)))
    by_model: dict[str, list[tuple[int, float]]] = {}
    for p in profile.throughput:
        try:
            model = resolve_gpu(p.gpu, known)
        except UnknownGpuError as exc:
            raise UnknownGpuError(f"profile {profile.name}: {exc.message}", fix=exc.fix) from None
        by_model.setdefault(model, []).append((p.gpus, p.units_per_s))
    in_catalog = set(catalog.gpu_models)
    memory = catalog.frame.groupby("gpu")["gpu_memory_gib"].max().to_dict()
    curves: dict[str, ScalingCurve] = {}
    warnings: list[str] = []
    too_small: list[str] = []
    missing: list[str] = []
    for model, pts in by_model.items():
        counts = sorted({n for n, _ in pts})
        if len(counts) < 2:
            warnings.append(f"{model}: throughput measured at one GPU count ({counts[0]}) only, skipped; "
                            f"measure a second count to use it")
            continue
        if model not in in_catalog:
            missing.append(model)
            warnings.append(f"{model}: no offer in the catalog, skipped")
            continue
        if memory[model] < profile.memory_gib_per_gpu:
            too_small.append(f"{model} ({memory[model]:g} GiB)")
            warnings.append(f"{model}: {memory[model]:g} GiB per GPU < {profile.memory_gib_per_gpu:g} GiB needed, skipped")
            continue
        curves[model] = fit_curve(model, [n for n, _ in pts], [t for _, t in pts])
    if not curves:
        if too_small:
            raise InfeasibleError(
                f"profile {profile.name}: memory_gib_per_gpu {profile.memory_gib_per_gpu:g} fits no measured GPU: "
                f"{', '.join(too_small)}",
                fix="measure a GPU with more memory or shard the model further (lower memory_gib_per_gpu)")
        if missing:
            raise InfeasibleError(f"profile {profile.name}: the catalog has no offer for {', '.join(missing)}",
                                  fix="use a catalog that sells them or measure a GPU model it sells")
        raise InputError(f"profile {profile.name}: no GPU model has throughput at two or more GPU counts "
                         f"({'; '.join(warnings)})",
                         fix="add a second point (another GPU count) for at least one GPU model")
    return curves, warnings


def _candidate_offers(profile: JobProfile, catalog: Catalog, curves: dict[str, ScalingCurve]) -> pd.DataFrame:
    """Offer x purchase rows with per-node hourly price and per-node interruption rate, pruned per group."""
    df = catalog.frame.reset_index(drop=True)
    df = df[df["gpu"].isin(list(curves)) & (df["gpu_memory_gib"] >= profile.memory_gib_per_gpu)
            & (df["gpus"] >= profile.min_gpus_per_node)]
    frames = []
    for spot, col in ((False, "price_usd_per_hour"), (True, "spot_price_usd_per_hour")):
        part = df[df[col].notna() & (df[col] > 0)].copy()
        part["spot"] = spot
        part["node_price"] = part[col]
        if spot:
            part["node_rate"] = [interruptions_per_hour(c, r, i, profile.interruption_rates)
                                 for c, r, i in zip(part["cloud"], part["region"], part["instance_type"])]
        else:
            part["node_rate"] = 0.0
        frames.append(part)
    rows = pd.concat(frames, ignore_index=True)
    rows = rows.sort_values(["node_price", "cloud", "region", "instance_type", "zone"], na_position="first",
                            kind="stable")
    # Within a group every k-node option has the same hours, so the cheapest offer dominates the rest.
    return rows.drop_duplicates(["gpu", "gpus", "spot", "node_rate"], keep="first").reset_index(drop=True)


def enumerate_options(profile: JobProfile, catalog: Catalog, curves: dict[str, ScalingCurve]) -> list[PlanOption]:
    """Every priced (cheapest-in-group offer, purchase, node count) option with its expected hours and cost."""
    rows = _candidate_offers(profile, catalog, curves)
    options: list[PlanOption] = []
    for model, curve in curves.items():
        lo, hi = curve.allowed_range
        group = rows[rows["gpu"] == model]
        if group.empty:
            continue
        per_node = group["gpus"].to_numpy()
        max_k = min(hi, profile.max_nodes or hi)
        # all (row, k) with lo <= k * g <= hi and k <= max_nodes, as two flat arrays
        k_grid = np.arange(1, max_k + 1)
        ok = (k_grid[None, :] * per_node[:, None] >= lo) & (k_grid[None, :] * per_node[:, None] <= hi)
        ri, kj = np.nonzero(ok)
        if ri.size == 0:
            continue
        k = k_grid[kj].astype(float)
        n = k * per_node[ri]
        compute_s = profile.work / curve.units_per_s(n)
        lam_per_s = k * group["node_rate"].to_numpy()[ri] / SECONDS_PER_HOUR
        wall_s = expected_wall_s(compute_s, lam_per_s, profile.checkpoint_interval_s, profile.restore_s)
        hourly = k * group["node_price"].to_numpy()[ri]
        hours = wall_s / SECONDS_PER_HOUR
        cost = hourly * hours
        cols = {c: group[c].tolist() for c in ("cloud", "region", "zone", "instance_type", "gpus", "spot", "node_rate")}
        for j in np.flatnonzero(np.isfinite(hours)).tolist():
            r = int(ri[j])
            zone = cols["zone"][r]
            options.append(PlanOption(
                cols["cloud"][r], cols["region"][r], None if pd.isna(zone) else zone, cols["instance_type"][r], model,
                int(n[j]), int(cols["gpus"][r]), int(k[j]), bool(cols["spot"][r]), float(hourly[j]),
                float(k[j] * cols["node_rate"][r]), float(compute_s[j] / SECONDS_PER_HOUR), float(hours[j]),
                float(cost[j]), curve.is_extrapolated(int(n[j]))))
    return options


def _rank_key(o: PlanOption) -> tuple:
    return (o.expected_cost_usd, o.expected_hours, o.spot, o.gpu, o.gpus, o.cloud, o.region, o.instance_type)


def pareto_frontier(options: list[PlanOption]) -> list[PlanOption]:
    """Options no other option beats on both hours and cost, sorted by hours (one per distinct point)."""
    ordered = sorted(options, key=lambda o: (o.expected_hours, *_rank_key(o)))
    frontier: list[PlanOption] = []
    best_cost = np.inf
    for o in ordered:
        if o.expected_cost_usd < best_cost:
            frontier.append(o)
            best_cost = o.expected_cost_usd
    return frontier


def plan_training(profile: JobProfile, catalog: Catalog, deadline_s: float | None = None) -> TrainingPlan:
    """The cheapest expected-cost option that meets the deadline, and the cost-time frontier."""
    if deadline_s is not None and not deadline_s > 0:
        raise InputError(f"deadline must be > 0 seconds, got {deadline_s!r}", fix="pass e.g. --deadline 48h")
    curves, warnings = fit_profile_curves(profile, catalog)
    options = enumerate_options(profile, catalog, curves)
    if not options:
        ranges = ", ".join(f"{g} {c.allowed_range[0]}-{c.allowed_range[1]} GPUs" for g, c in curves.items())
        raise InfeasibleError(f"profile {profile.name}: no catalog offer has a GPU count per node that fits the "
                              f"trusted range of the throughput curves ({ranges})",
                              fix="measure throughput at GPU counts the catalog sells (multiples of 1, 2, 4 or 8)")
    meeting = options if deadline_s is None else [o for o in options if o.expected_hours * SECONDS_PER_HOUR <= deadline_s]
    if not meeting:
        fastest = min(options, key=lambda o: (o.expected_hours, o.expected_cost_usd))
        raise InfeasibleError(
            f"profile {profile.name}: no option finishes within the deadline of {deadline_s / SECONDS_PER_HOUR:g} h; "
            f"the fastest is {fastest.gpus} x {fastest.gpu} ({fastest.nodes} x {fastest.instance_type}, "
            f"{fastest.cloud} {fastest.region}, {'spot' if fastest.spot else 'on-demand'}) at "
            f"{fastest.expected_hours:.2f} h expected",
            fix=f"allow at least {fastest.expected_hours:.2f} h, or measure throughput at larger GPU counts")
    choice = min(meeting, key=_rank_key)
    return TrainingPlan(profile.name, deadline_s, choice, tuple(pareto_frontier(options)), curves, len(options),
                        tuple(warnings))
