"""Serve plan: which candidate (GPU x replica size x variant x purchase) serves a trace at its SLO for least.

Two pure steps around the replays, which an adapter runs (`costplane.replay.serve_plan`):
1. `prepare(profile, catalog, step_s)`: per candidate, whether the model fits its memory (catalog GPU
   memory x gpus_per_replica >= memory need), its on-demand and spot offers, and the service spec to replay.
2. `plan_from_replays(profile, setups, outcomes)`: every priced option, the choice, the frontier.

Options per replayed candidate (one replay each: the policy does not read prices):
- on-demand: the replay's own cost, served share and oracle ratio, unchanged;
- spot (when the profile allows it): every replica spot, cost = replica-hours x spot price x overhead
  (`_pricing.spot_overhead`);
- mixed: a floor of F on-demand replicas, spot above it. With u_t the replicas up in step t, on-demand
  hours = sum_t min(u_t, F) dt and spot hours the rest. Offered only where it pays: when spot (with its
  overhead) is cheaper per hour and all-spot misses the SLO. Cost rises with F and so does the SLO bound,
  so the smallest F whose bound meets the SLO is the cheapest mixed fleet.
Spot options are held to the SLO with a conservative served share: every interruption is assumed to cost
a full replica's capacity for one cold start (lost units = interruptions x cold_start_s x capacity).
`choice` = cheapest option whose (bounded) served share meets `slo.served`; ties: higher served share,
on-demand before mixed before spot, then names. The frontier is the cost-vs-served Pareto set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from costplane.autoscale import ServiceSpec
from costplane.core.errors import InfeasibleError, UnknownGpuError
from costplane.core.gpus import GPU_MEMORY_GIB, resolve_gpu
from costplane.core.types import Catalog
from costplane.serveplan._pricing import ReplicaOffer, on_demand_offer, spot_offer, spot_overhead
from costplane.serveplan._profile import Candidate, ServePlanProfile

SECONDS_PER_HOUR = 3600.0
PURCHASE_ORDER = {"on-demand": 0, "mixed": 1, "spot": 2}
# The habit a plan is compared with: the newest flagship data-centre GPU, on demand (newest first).
FLAGSHIP_GPUS_NEWEST_FIRST = ("B300", "B200", "H200", "H100", "A100-80GB", "A100", "V100-32GB", "V100")


@dataclass(frozen=True)
class CandidateSetup:
    """A candidate resolved against the catalog: memory fit, offers, and the spec to replay (None: not replayed)."""

    index: int
    candidate: Candidate
    gpu: str
    memory_need_gib: float
    replica_memory_gib: float | None
    fits_memory: bool
    on_demand: ReplicaOffer | None
    spot: ReplicaOffer | None
    spec: ServiceSpec | None
    note: str = ""

    @property
    def replay_price(self) -> float:
        """The per-replica hourly price the replay runs at: on demand when there is such an offer."""
        offer = self.on_demand or self.spot
        assert offer is not None
        return offer.hourly_usd

    @property
    def price_source(self) -> str:
        offer = self.on_demand or self.spot
        assert offer is not None
        return f"{offer.cloud} {offer.region} {offer.instance_type} {'spot' if offer.spot else 'on-demand'}"


@dataclass(frozen=True)
class ReplayOutcome:
    """What the adapter hands back per replayed candidate: replay's JSON dict and its paid replicas per step."""

    result: dict[str, Any]          # InferenceReplay.to_dict(), exactly what `costplane replay --json` prints
    up_replicas: np.ndarray
    step_s: float


@dataclass(frozen=True)
class ServeOption:
    setup: CandidateSetup
    purchase: str                   # on-demand | spot | mixed
    on_demand_floor: int | None     # mixed: on-demand replicas below which none is spot; spot: 0
    cost_usd: float | None
    demand_served_fraction: float | None  # the replay's (no interruptions)
    slo_served_fraction: float | None     # what the SLO is checked against (spot: interruption bound)
    meets_slo: bool
    price_usd_per_hour: float | None      # effective per replica-hour (mixed: blended over the trace)
    expected_interruptions: float = 0.0
    replay: dict[str, Any] = field(default_factory=dict)

    @property
    def spot(self) -> bool:
        return self.purchase != "on-demand"

    def rank_key(self) -> tuple:
        c = self.setup.candidate
        cost = math.inf if self.cost_usd is None else self.cost_usd
        served = -(self.slo_served_fraction or 0.0)
        return (cost, served, PURCHASE_ORDER[self.purchase], self.setup.gpu, c.gpus_per_replica, c.variant or "")

    def to_dict(self) -> dict[str, Any]:
        s, c, r = self.setup, self.setup.candidate, self.replay
        offers = {}
        if self.purchase in ("on-demand", "mixed") and s.on_demand is not None:
            offers["on_demand"] = s.on_demand.to_dict()
        if self.purchase in ("spot", "mixed") and s.spot is not None:
            offers["spot"] = s.spot.to_dict()
        oracle_rh = r.get("oracle_cost_usd")
        return {
            "gpu": s.gpu, "gpus_per_replica": c.gpus_per_replica, "variant": c.variant, "spot": self.spot,
            "purchase": self.purchase, "on_demand_floor": self.on_demand_floor,
            "fits_memory": s.fits_memory, "memory_need_gib": s.memory_need_gib,
            "replica_memory_gib": s.replica_memory_gib,
            "capacity_per_replica": c.capacity_per_replica, "cold_start_s": c.cold_start_s,
            "price_usd_per_hour": self.price_usd_per_hour,
            "cost_usd": self.cost_usd, "demand_served_fraction": self.demand_served_fraction,
            "slo_served_fraction": self.slo_served_fraction, "meets_slo": self.meets_slo,
            "cost_ratio_to_oracle": _finite(r.get("cost_ratio_to_oracle")),
            "oracle_cost_usd": None if oracle_rh is None or self.price_usd_per_hour is None
            else round(_oracle_replica_hours(r) * self.price_usd_per_hour, 4),
            "cold_starts": r.get("cold_starts"), "expected_interruptions": self.expected_interruptions,
            "peak_replicas": r.get("peak_replicas"), "replica_hours": r.get("replica_hours"),
            "gpu_hours": r.get("gpu_hours"), "offers": offers, "note": s.note,
        }


@dataclass(frozen=True)
class ServePlan:
    profile: ServePlanProfile
    options: tuple[ServeOption, ...]   # sorted by cost (unpriced last)
    choice: ServeOption | None
    frontier: tuple[ServeOption, ...]
    baseline: ServeOption | None
    warnings: tuple[str, ...] = ()

    def best_served(self) -> ServeOption | None:
        priced = [o for o in self.options if o.slo_served_fraction is not None]
        return max(priced, key=lambda o: (o.slo_served_fraction, -(o.cost_usd or 0.0))) if priced else None

    def to_dict(self) -> dict[str, Any]:
        choice = None if self.choice is None else self.choice.to_dict()
        base = None if self.baseline is None else self.baseline.to_dict()
        saving = None
        if self.choice is not None and self.baseline is not None and self.baseline.cost_usd:
            saved = self.baseline.cost_usd - (self.choice.cost_usd or 0.0)
            saving = {"usd": round(saved, 4), "fraction": saved / self.baseline.cost_usd}
        p = self.profile
        return {
            "profile": p.name,
            "slo": {"max_queue_s": p.slo.max_queue_s, "served": p.slo.served},
            "choice": choice,
            "candidates": [o.to_dict() for o in self.options],
            "frontier": [{"gpu": o.setup.gpu, "gpus_per_replica": o.setup.candidate.gpus_per_replica,
                          "variant": o.setup.candidate.variant, "spot": o.spot, "purchase": o.purchase,
                          "cost_usd": o.cost_usd, "slo_served_fraction": o.slo_served_fraction,
                          "meets_slo": o.meets_slo} for o in self.frontier],
            "baseline": base,
            "saving_vs_baseline": saving,
            "warnings": list(self.warnings),
        }


def _finite(x: Any) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


def _oracle_replica_hours(r: dict[str, Any]) -> float:
    price = r.get("price_usd_per_hour") or 0.0
    return (r.get("oracle_cost_usd") or 0.0) / price if price else 0.0


def _gpu_memory(catalog: Catalog, gpu: str) -> float | None:
    frame = catalog.frame
    sel = frame.loc[frame["gpu"] == gpu, "gpu_memory_gib"]
    if len(sel):
        return float(sel.max())
    return GPU_MEMORY_GIB.get(gpu)


def service_spec(profile: ServePlanProfile, candidate: Candidate, gpu: str,
                 price_usd_per_hour: float | None = None) -> ServiceSpec:
    """The spec `costplane replay --service` and the controller read for this candidate."""
    return ServiceSpec(name=profile.name, gpu=gpu, gpus_per_replica=candidate.gpus_per_replica,
                       capacity_per_replica=candidate.capacity_per_replica, cold_start_s=candidate.cold_start_s,
                       min_replicas=profile.min_replicas, max_replicas=profile.max_replicas,
                       scale_to_zero=profile.scale_to_zero, max_queue_s=profile.slo.max_queue_s,
                       price_usd_per_hour=price_usd_per_hour)


def prepare(profile: ServePlanProfile, catalog: Catalog) -> list[CandidateSetup]:
    """Resolve every candidate: GPU name, memory fit, offers; the spec to replay when it fits and is priced."""
    known = tuple(sorted(set(catalog.gpu_models) | set(GPU_MEMORY_GIB)))
    setups: list[CandidateSetup] = []
    for i, c in enumerate(profile.candidates):
        try:
            gpu = resolve_gpu(c.gpu, known)
        except UnknownGpuError as exc:
            raise UnknownGpuError(f"profile {profile.name}: candidates[{i}]: {exc.message}", fix=exc.fix) from None
        need = profile.memory_need(c)
        per_gpu = _gpu_memory(catalog, gpu)
        replica_mem = None if per_gpu is None else per_gpu * c.gpus_per_replica
        fits = replica_mem is not None and replica_mem + 1e-9 >= need
        od = sp = None
        note = ""
        if not fits:
            note = (f"{c.label}: {replica_mem:g} GiB < {need:g} GiB needed" if replica_mem is not None
                    else f"{gpu}: GPU memory unknown")
        else:
            od, why_od = on_demand_offer(catalog, gpu, c.gpus_per_replica, profile.host)
            if profile.allow_spot:
                sp, why_sp = spot_offer(catalog, gpu, c.gpus_per_replica, profile.host, profile.interruption_rates)
            if od is None and sp is None:
                note = f"{c.label}: {why_od}"
            elif od is None:
                note = f"{c.label}: no on-demand offer ({why_od}); spot only"
        spec = service_spec(profile, c, gpu) if fits and (od or sp) else None
        setups.append(CandidateSetup(i, c, gpu, need, replica_mem, fits, od, sp, spec, note))
    return setups


def _levels_hours(up: np.ndarray, step_s: float) -> np.ndarray:
    """h[k-1] = replica-hours of layer k (hours with at least k replicas up), k = 1..peak."""
    peak = int(up.max(initial=0))
    if peak == 0:
        return np.zeros(0)
    hist = np.bincount(up.astype(np.int64), minlength=peak + 1)
    at_least = hist[::-1].cumsum()[::-1][1:]  # steps with up >= k, k = 1..peak
    return at_least * step_s / SECONDS_PER_HOUR


def _options(profile: ServePlanProfile, s: CandidateSetup, out: ReplayOutcome) -> list[ServeOption]:
    r = out.result
    slo = profile.slo.served
    served_units = float(r["served_units"])
    total_units = served_units + float(r["unserved_units"])
    served = float(r["demand_served_fraction"])
    options: list[ServeOption] = []
    if s.on_demand is not None:
        options.append(ServeOption(s, "on-demand", None, float(r["cost_usd"]), served, served, served >= slo,
                                   s.on_demand.hourly_usd, 0.0, r))
    if s.spot is None:
        return options
    c = s.candidate
    layers = _levels_hours(out.up_replicas, out.step_s)
    hours = float(layers.sum())
    lam = s.spot.interruptions_per_hour
    spot_eff = s.spot.hourly_usd * spot_overhead(lam, c.cold_start_s, out.step_s)

    def at_floor(floor: int) -> tuple[float, float, float]:
        od_hours = float(layers[:floor].sum())
        spot_hours = hours - od_hours
        od_price = s.on_demand.hourly_usd if s.on_demand is not None else 0.0
        cost = od_hours * od_price + spot_hours * spot_eff
        interruptions = lam * spot_hours
        lost = min(served_units, interruptions * c.cold_start_s * c.capacity_per_replica)
        bound = 1.0 if total_units <= 0 else (served_units - lost) / total_units
        return cost, bound, interruptions

    cost0, bound0, n0 = at_floor(0)
    options.append(ServeOption(s, "spot", 0, round(cost0, 4), served, bound0, bound0 >= slo,
                               spot_eff, n0, r))
    if s.on_demand is not None and spot_eff < s.on_demand.hourly_usd and layers.size > 1:
        # cost and the served bound both rise with the floor: the smallest floor meeting the SLO is cheapest
        for floor in range(1, layers.size):
            cost, bound, n = at_floor(floor)
            if bound >= slo:
                if cost < float(r["cost_usd"]) and not bound0 >= slo:
                    blended = cost / hours if hours > 0 else spot_eff
                    options.append(ServeOption(s, "mixed", floor, round(cost, 4), served, bound, True,
                                               blended, n, r))
                break
    return options


def _frontier(options: list[ServeOption]) -> list[ServeOption]:
    """Options no other beats on both cost (lower) and served share (higher), cheapest first."""
    priced = sorted((o for o in options if o.cost_usd is not None), key=lambda o: o.rank_key())
    front: list[ServeOption] = []
    best = -math.inf
    for o in priced:
        if (o.slo_served_fraction or 0.0) > best + 1e-12:
            front.append(o)
            best = o.slo_served_fraction or 0.0
    return front


def _baseline(options: list[ServeOption]) -> ServeOption | None:
    """The habit: the newest flagship GPU among the candidates, on demand, its cheapest row that meets the SLO."""
    for gpu in FLAGSHIP_GPUS_NEWEST_FIRST:
        rows = [o for o in options if o.setup.gpu == gpu and o.purchase == "on-demand" and o.cost_usd is not None]
        if rows:
            meeting = [o for o in rows if o.meets_slo]
            return min(meeting or rows, key=lambda o: o.rank_key())
    return None


def plan_from_replays(profile: ServePlanProfile, setups: list[CandidateSetup],
                      outcomes: dict[int, ReplayOutcome], warnings: tuple[str, ...] = ()) -> ServePlan:
    """All options, the cheapest meeting the SLO, the frontier and the newest-GPU baseline."""
    options: list[ServeOption] = []
    notes = [s.note for s in setups if s.note and s.fits_memory]
    for s in setups:
        if s.index in outcomes:
            options.extend(_options(profile, s, outcomes[s.index]))
        else:
            options.append(ServeOption(s, "on-demand", None, None, None, None, False, None))
    options.sort(key=lambda o: o.rank_key())
    meeting = [o for o in options if o.meets_slo]
    choice = meeting[0] if meeting else None
    return ServePlan(profile, tuple(options), choice, tuple(_frontier(options)), _baseline(options),
                     tuple(warnings) + tuple(notes))


def require_choice(plan: ServePlan) -> ServeOption:
    """The choice, or an InfeasibleError naming the best served share (CONTRACTS: exit non-zero)."""
    if plan.choice is not None:
        return plan.choice
    p = plan.profile
    best = plan.best_served()
    target = f"{100 * p.slo.served:g} % within {p.slo.max_queue_s:g} s"
    if best is None:
        fits = [s for s in plan.options if s.setup.fits_memory]
        why = "no candidate fits the memory need" if not fits else "no candidate that fits has a catalog offer"
        raise InfeasibleError(f"profile {p.name}: {why} ({'; '.join(o.setup.note for o in plan.options)})",
                              fix="add candidates with more GPU memory per replica, or use a catalog that sells them")
    c = best.setup.candidate
    raise InfeasibleError(
        f"profile {p.name}: no candidate serves {target}; the best served share is "
        f"{100 * (best.slo_served_fraction or 0.0):.3f} % ({c.label}, {best.purchase})",
        fix="raise max_replicas, add candidates with more capacity per replica, or relax slo.served")


def spec_for_option(plan: ServePlan, option: ServeOption, discounted: bool = False) -> dict[str, Any]:
    """The service spec (replay / controller format) that runs `option`.

    `price_usd_per_hour` is written whenever plain catalog pricing would differ from the plan's:
    spot or mixed purchase (effective price with interruption overhead; mixed: blended over the trace),
    host minimums, or negotiated discounts. Otherwise the catalog prices it, as `costplane replay` does.
    """
    p, s = plan.profile, option.setup
    host = p.host.min_vcpus_per_gpu > 0 or p.host.min_memory_gib_per_gpu > 0
    price = option.price_usd_per_hour if (option.purchase != "on-demand" or host or discounted) else None
    spec = service_spec(p, s.candidate, s.gpu, price)
    return {k: v for k, v in spec.to_dict().items() if v is not None}
