r"""Fleet planning: place many workloads jointly at minimum cost under GPU quotas, as a MILP (HiGHS).

Notation. Workloads $i$, each with candidate options $j \in C_i$ (a catalog offer, on-demand or spot),
cost $c_{ij}$ = hourly price × nodes × hours, GPU use $g_i$ = gpus_per_node × nodes. Quotas $q$ with
limit $Q_q$ and the option set $S_q$ they cover (cloud, optional region, optional GPU model).

    minimise   \sum_{i,j} c_{ij} x_{ij}
    subject to \sum_{j \in C_i} x_{ij} = 1                      for every workload i
               \sum_{(i,j) \in S_q} g_i x_{ij} \le Q_q           for every quota q
               \sum_{(i,j): spot} g_i x_{ij} \le f \sum_i g_i    (optional spot share f)
               x_{ij} \in \{0, 1\}

Pruning keeps the MILP small without losing optimality: two options of one workload that fall under
exactly the same quotas and the same spot-ness are interchangeable in every constraint, so only the
cheaper one can be in an optimum. With no quotas each workload keeps at most two options and the
solve is trivial; with per-cloud quotas it keeps about (clouds + 1) × 2.

When the MILP is infeasible, an elastic LP (each quota may be exceeded at a cost of 1 per GPU) finds
the quotas that must give: those are named in the error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_array, vstack

from costplane.core.errors import CostplaneError, InfeasibleError, InputError, UnknownGpuError
from costplane.core.files import Lines, read_structured_lines
from costplane.core.highs import WorkLimits, solve
from costplane.core.schema import FleetFile, FleetWorkload, validate
from costplane.core.types import Catalog
from costplane.placement._request import Placement, PlacementRequest
from costplane.placement._single import feasible_rows, price_options


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    request: PlacementRequest
    team: str | None = None


@dataclass(frozen=True, slots=True)
class Quota:
    cloud: str
    max_gpus: float
    region: str | None = None
    gpu: str | None = None

    def covers(self, cloud: str, region: str, gpu: str) -> bool:
        return (cloud == self.cloud and (self.region is None or region == self.region)
                and (self.gpu is None or gpu == self.gpu))

    def label(self) -> str:
        scope = "/".join(p for p in (self.cloud, self.region, self.gpu) if p)
        return f"quota {scope} max_gpus={self.max_gpus:g}"


@dataclass(frozen=True, slots=True)
class FleetSpec:
    workloads: tuple[Workload, ...]
    quotas: tuple[Quota, ...] = ()
    default_cloud: str = "aws"
    max_spot_fraction: float | None = None


@dataclass(frozen=True)
class FleetPlan:
    status: str
    total_usd: float
    naive_total_usd: float
    assignments: tuple[tuple[str, Placement], ...]
    solve_seconds: float = 0.0
    quota_use: tuple[tuple[str, float, float], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "total_usd": round(self.total_usd, 6),
            "naive_total_usd": round(self.naive_total_usd, 6),
            "savings_usd": round(self.naive_total_usd - self.total_usd, 6),
            "assignments": [{"workload": name, **p.to_dict()} for name, p in self.assignments],
            "quotas": [{"quota": q, "used_gpus": u, "max_gpus": m} for q, u, m in self.quota_use],
            "solve_seconds": round(self.solve_seconds, 4),
        }


# ---------------------------------------------------------------- plan file parsing (edge of the module)

DOCS = "docs/placement.md (plan file)"


def _workload(raw: FleetWorkload, where: str) -> Workload:
    try:
        request = PlacementRequest(
            gpu=raw.gpu,
            gpus_per_node=raw.gpus if raw.gpus is not None else (raw.gpus_per_node or 1),
            nodes=raw.nodes,
            hours=float(raw.hours),
            min_gpu_memory_gib=float(raw.min_gpu_memory_gib or 0),
            min_vcpus=float(raw.min_vcpus or 0),
            min_memory_gib=float(raw.min_memory_gib or 0),
            clouds=tuple(c.lower() for c in raw.clouds or ()),
            regions=tuple(raw.regions or ()),
            spot=raw.spot,
        )
    except CostplaneError as exc:
        raise InputError(f"{where} ({raw.name}): {exc.message}", fix=exc.fix) from None
    return Workload(raw.name, request, raw.team)


def parse_fleet_spec(data: Any, source: str = "plan", lines: Lines | None = None) -> FleetSpec:
    """Validate a loaded plan (core.schema.FleetFile: unknown keys, units and ranges) into a FleetSpec."""
    model = validate(FleetFile, data, source, lines, DOCS)
    workloads = tuple(_workload(w, f"{source}: workloads[{i}]") for i, w in enumerate(model.workloads))
    names = [w.name for w in workloads]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"{source}: duplicate workload name(s) {', '.join(dupes)}", fix="names must be unique")
    quotas = tuple(Quota(q.cloud.lower(), float(q.max_gpus), q.region, q.gpu) for q in model.quotas or ())
    spot_share = None if model.max_spot_fraction is None else float(model.max_spot_fraction)
    return FleetSpec(workloads, quotas, (model.default_cloud or "aws").lower(), spot_share)


def read_fleet_spec(path: Path) -> FleetSpec:
    data, lines = read_structured_lines(path, "plan file")
    return parse_fleet_spec(data, str(path), lines)


# ---------------------------------------------------------------- the solver (pure)

@dataclass
class _Options:
    workload: list[int] = field(default_factory=list)
    row: list[int] = field(default_factory=list)
    spot: list[bool] = field(default_factory=list)
    hourly: list[float] = field(default_factory=list)
    cost: list[float] = field(default_factory=list)


def _candidate_options(spec: FleetSpec, catalog: Catalog) -> _Options:
    """Per workload, the cheapest option per (quota signature, spot) — see the module docstring."""
    df = catalog.frame
    clouds, regions, gpus = df["cloud"].to_numpy(), df["region"].to_numpy(), df["gpu"].to_numpy()
    cache: dict[PlacementRequest, list[tuple[int, bool, float]]] = {}
    opts = _Options()
    for i, w in enumerate(spec.workloads):
        # Requests that differ only in hours share candidates: cache on the request with hours=1.
        key = PlacementRequest(w.request.gpu, w.request.gpus_per_node, w.request.nodes, 1.0,
                               w.request.min_gpu_memory_gib, w.request.min_vcpus, w.request.min_memory_gib,
                               w.request.clouds, w.request.regions, w.request.spot)
        if key not in cache:
            try:
                rows = feasible_rows(key, catalog)
            except InfeasibleError as exc:
                raise InfeasibleError(f"workload {w.name}: {exc.message}", fix=exc.fix) from None
            except UnknownGpuError as exc:
                raise UnknownGpuError(f"workload {w.name}: {exc.message}", fix=exc.fix) from None
            idx, spot, hourly = price_options(key, catalog, rows)
            best: dict[tuple, tuple[int, bool, float]] = {}
            for r, s, h in zip(idx.tolist(), spot.tolist(), hourly.tolist()):
                sig = (tuple(q for q, quota in enumerate(spec.quotas) if quota.covers(clouds[r], regions[r], gpus[r])), s)
                if sig not in best or h < best[sig][2]:
                    best[sig] = (r, s, h)
            if not best:
                raise InfeasibleError(f"workload {w.name}: no offer with a known price", fix="allow spot or another GPU")
            cache[key] = list(best.values())
        for r, s, h in cache[key]:
            opts.workload.append(i)
            opts.row.append(r)
            opts.spot.append(s)
            opts.hourly.append(h)
            opts.cost.append(h * w.request.hours)
    return opts


def naive_cost(spec: FleetSpec, catalog: Catalog) -> float:
    """What habit costs: each workload on the cheapest on-demand offer of its default cloud, quotas ignored.

    Falls back to any cloud when the habit cloud has no such offer, and, for a workload allowed spot
    whose machine has no on-demand price anywhere, to the cheapest spot offer (so a feasible plan
    always has a baseline).
    """
    hourly_by_key: dict[tuple, float | None] = {}
    total = 0.0
    for w in spec.workloads:
        cloud = w.request.clouds[0] if w.request.clouds else spec.default_cloud
        attempts = [((cloud,), False), ((), False)] + ([((), True)] if w.request.spot else [])
        key = (w.request.gpu, w.request.gpus_per_node, w.request.nodes, w.request.min_gpu_memory_gib,
               w.request.min_vcpus, w.request.min_memory_gib, cloud, w.request.spot)
        if key not in hourly_by_key:
            hourly_by_key[key] = None
            for clouds, spot in attempts:
                # the habit baseline is the raw cheapest offer (CONTRACTS.md `plan`: naive_total_usd), no host minimums
                req = PlacementRequest(w.request.gpu, w.request.gpus_per_node, w.request.nodes, 1.0,
                                       w.request.min_gpu_memory_gib, w.request.min_vcpus, w.request.min_memory_gib,
                                       clouds, (), spot, host_minimums=False)
                try:
                    idx, _, hourly = price_options(req, catalog, feasible_rows(req, catalog))
                except InfeasibleError:
                    continue
                if idx.size:
                    hourly_by_key[key] = float(hourly.min())
                    break
        price = hourly_by_key[key]
        if price is None:
            raise InfeasibleError(f"workload {w.name}: no on-demand offer anywhere for the naive baseline",
                                  fix="check its GPU model and size")
        total += price * w.request.hours
    return total


def _gpus_of(spec: FleetSpec, opts: _Options) -> np.ndarray:
    return np.array([spec.workloads[i].request.total_gpus for i in opts.workload], dtype=float)


def _constraint_rows(spec: FleetSpec, catalog: Catalog, opts: _Options) -> tuple[list, list[float], list[str]]:
    """Sparse rows (cols, vals) with upper bounds and labels, for quotas and the spot share."""
    df = catalog.frame
    clouds, regions, gpus_col = df["cloud"].to_numpy(), df["region"].to_numpy(), df["gpu"].to_numpy()
    g = _gpus_of(spec, opts)
    rows, ub, labels = [], [], []
    for quota in spec.quotas:
        cols = [k for k, r in enumerate(opts.row) if quota.covers(clouds[r], regions[r], gpus_col[r])]
        rows.append((cols, g[cols]))
        ub.append(quota.max_gpus)
        labels.append(quota.label())
    if spec.max_spot_fraction is not None:
        cols = [k for k, s in enumerate(opts.spot) if s]
        total = sum(w.request.total_gpus for w in spec.workloads)
        rows.append((cols, g[cols]))
        ub.append(spec.max_spot_fraction * total)
        labels.append(f"max_spot_fraction={spec.max_spot_fraction:g}")
    return rows, ub, labels


def _binding_constraints(n_work: int, opts: _Options, rows: list, ub: list[float], labels: list[str]) -> list[str]:
    """Elastic LP: minimise the GPUs by which each quota must be exceeded to place every workload."""
    n, m = len(opts.row), len(rows)
    c = np.concatenate([np.zeros(n), np.ones(m)])
    a_eq = csr_array((np.ones(n), (np.asarray(opts.workload), np.arange(n))), shape=(n_work, n + m))
    data, ri, ci = [], [], []
    for q, (cols, vals) in enumerate(rows):
        ri.extend([q] * (len(cols) + 1))
        ci.extend([*cols, n + q])
        data.extend([*np.asarray(vals).tolist(), -1.0])
    a_ub = csr_array((data, (ri, ci)), shape=(m, n + m))
    res = solve(c, vstack([a_eq, a_ub]), np.concatenate([np.ones(n_work), np.full(m, -np.inf)]),
                np.concatenate([np.ones(n_work), np.asarray(ub, dtype=float)]), 0.0, np.inf)
    if not res.optimal or res.x is None:
        return []
    slack = res.x[n:]
    return [f"{labels[q]} (short by {slack[q]:.0f} GPUs)" for q in range(m) if slack[q] > 1e-6]


def plan_fleet(spec: FleetSpec, catalog: Catalog, time_limit_s: float = 60.0) -> FleetPlan:
    """Optimal joint placement (see the module docstring for the MILP)."""
    import time

    started = time.perf_counter()
    opts = _candidate_options(spec, catalog)
    n_work, n = len(spec.workloads), len(opts.row)
    cost = np.asarray(opts.cost)
    a_assign = csr_array((np.ones(n), (np.asarray(opts.workload), np.arange(n))), shape=(n_work, n))
    blocks, lo, hi = [a_assign], [np.ones(n_work)], [np.ones(n_work)]
    rows, ub, labels = _constraint_rows(spec, catalog, opts)
    if rows:
        data, ri, ci = [], [], []
        for q, (cols, vals) in enumerate(rows):
            ri.extend([q] * len(cols))
            ci.extend(cols)
            data.extend(np.asarray(vals).tolist())
        blocks.append(csr_array((data, (ri, ci)), shape=(len(rows), n)))
        lo.append(np.full(len(rows), -np.inf))
        hi.append(np.asarray(ub, dtype=float))
    # Solved to optimality (gap 1e-9): the answer does not depend on the machine; the time limit only guards
    # against a hang and is reported as an error, never as a different plan.
    res = solve(cost, vstack(blocks), np.concatenate(lo), np.concatenate(hi), 0.0, 1.0, np.ones(n),
                WorkLimits(rel_gap=1e-9, safety_s=time_limit_s))
    if res.infeasible or (res.x is None and not res.hit_time_limit):
        binding = _binding_constraints(n_work, opts, rows, ub, labels)
        why = "; ".join(binding) if binding else "the quotas cannot hold every workload"
        raise InfeasibleError(f"plan is infeasible: {why}", fix="raise that quota or allow more clouds/regions")
    if not res.optimal or res.x is None:
        raise CostplaneError(f"the MILP solver stopped early: {res.status}",
                             fix="split the fleet file into smaller plans")
    chosen = np.flatnonzero(res.x > 0.5)
    assignments = []
    for k in chosen:
        w = spec.workloads[opts.workload[k]]
        o = catalog.offers[opts.row[k]]
        assignments.append((w.name, Placement(o.cloud, o.region, o.zone, o.instance_type, o.gpu, o.gpus,
                                              w.request.nodes, opts.spot[k], opts.hourly[k], opts.cost[k], opts.row[k])))
    order = {w.name: i for i, w in enumerate(spec.workloads)}
    assignments.sort(key=lambda a: order[a[0]])
    x = np.zeros(n)
    x[chosen] = 1.0
    use = tuple((labels[q], float(np.dot(vals, x[cols])), ub[q]) for q, (cols, vals) in enumerate(rows))
    return FleetPlan(
        status="optimal",
        total_usd=float(sum(p.total_usd for _, p in assignments)),
        naive_total_usd=naive_cost(spec, catalog),
        assignments=tuple(assignments),
        solve_seconds=time.perf_counter() - started,
        quota_use=use,
    )
