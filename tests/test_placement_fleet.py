"""Fleet planning (MILP) against exhaustive enumeration on random small fleets, quotas, naive baseline, errors."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from costplane.core.errors import InfeasibleError, InputError
from costplane.core.types import Catalog, Offer
from costplane.placement import FleetSpec, PlacementRequest, Quota, Workload, parse_fleet_spec, plan_fleet

CLOUDS = ("aws", "gcp", "lambda")
REGIONS = {c: (f"{c}-east", f"{c}-west") for c in CLOUDS}
GPUS = ("H100", "L4")
PRICES = st.one_of(st.none(), st.floats(0.5, 100.0, allow_nan=False).map(lambda x: round(x, 4)))


@st.composite
def offers(draw) -> Offer:
    cloud = draw(st.sampled_from(CLOUDS))
    gpu = draw(st.sampled_from(GPUS))
    gpus = draw(st.sampled_from([1, 8]))
    price = draw(PRICES)
    spot = draw(st.one_of(st.none(), st.floats(0.2, 1.0).map(lambda f: round(f * (price or 50.0), 4))))
    if price is None and spot is None:
        price = 10.0
    itype = f"{gpu.lower()}.{gpus}x.{draw(st.integers(0, 99))}"
    return Offer(cloud, draw(st.sampled_from(REGIONS[cloud])), None, itype,
                 gpu, 80.0 if gpu == "H100" else 24.0, gpus, 8.0 * gpus, 32.0 * gpus, price, spot)


@st.composite
def fleets(draw) -> tuple[Catalog, FleetSpec]:
    catalog = Catalog(tuple(draw(st.lists(offers(), min_size=1, max_size=6))), "test", "hypothesis")
    workloads = []
    for i in range(draw(st.integers(1, 4))):
        offer = draw(st.sampled_from(catalog.offers))  # mostly shapes the catalog has
        request = PlacementRequest(
            gpu=offer.gpu,
            gpus_per_node=offer.gpus if draw(st.integers(0, 4)) else draw(st.sampled_from([1, 8])),
            nodes=draw(st.integers(1, 3)),
            hours=float(draw(st.integers(1, 200))),
            clouds=tuple(dict.fromkeys(([offer.cloud] if draw(st.booleans()) else [])
                                       + draw(st.lists(st.sampled_from(CLOUDS), max_size=2, unique=True)))),
            spot=draw(st.booleans()),
        )
        workloads.append(Workload(f"w{i}", request))
    quotas = tuple(
        Quota(cloud=(c := draw(st.sampled_from(CLOUDS))), max_gpus=float(draw(st.integers(0, 24))),
              region=draw(st.one_of(st.none(), st.sampled_from(REGIONS[c]))),
              gpu=draw(st.one_of(st.none(), st.sampled_from(GPUS))))
        for _ in range(draw(st.integers(0, 3)))
    )
    spot_share = draw(st.one_of(st.none(), st.none(), st.sampled_from([0.0, 0.5])))
    return catalog, FleetSpec(tuple(workloads), quotas, draw(st.sampled_from(CLOUDS)), spot_share)


def _options(w: Workload, catalog: Catalog) -> list[tuple[Offer, bool, float]]:
    """Every (offer, spot, total cost) that can run w, with no pruning."""
    r = w.request
    out = []
    for o in catalog.offers:
        if o.gpu != r.gpu or o.gpus != r.gpus_per_node or (r.clouds and o.cloud not in r.clouds):
            continue
        for spot in (False, True) if r.spot else (False,):
            if o.price(spot) is not None:
                out.append((o, spot, o.price(spot) * r.nodes * r.hours))
    return out


def _within_limits(spec: FleetSpec, chosen) -> bool:
    for q in spec.quotas:
        used = sum(w.request.total_gpus for w, (o, _, _) in zip(spec.workloads, chosen)
                   if q.covers(o.cloud, o.region, o.gpu))
        if used > q.max_gpus:
            return False
    if spec.max_spot_fraction is not None:
        spot_gpus = sum(w.request.total_gpus for w, (_, s, _) in zip(spec.workloads, chosen) if s)
        if spot_gpus > spec.max_spot_fraction * sum(w.request.total_gpus for w in spec.workloads):
            return False
    return True


def brute_force(spec: FleetSpec, catalog: Catalog) -> float | None:
    """The cheapest assignment by trying every combination; None when no combination meets the limits."""
    per_workload = [_options(w, catalog) for w in spec.workloads]
    best = None
    for chosen in itertools.product(*per_workload):
        if _within_limits(spec, chosen):
            total = sum(c for _, _, c in chosen)
            best = total if best is None or total < best else best
    return best


def naive_by_contract(spec: FleetSpec, catalog: Catalog) -> float:
    """Each workload on the cheapest on-demand offer of its habit cloud, else of any cloud; quotas ignored."""
    total = 0.0
    for w in spec.workloads:
        r = w.request
        habit = r.clouds[0] if r.clouds else spec.default_cloud
        fits = [o for o in catalog.offers
                if o.gpu == r.gpu and o.gpus == r.gpus_per_node and o.price_usd_per_hour is not None]
        in_habit = [o for o in fits if o.cloud == habit]
        pool = in_habit or fits
        if pool:
            total += min(o.price_usd_per_hour for o in pool) * r.nodes * r.hours
        else:  # no on-demand price anywhere: a spot-allowed workload's habit is the cheapest spot offer
            total += min(o.spot_price_usd_per_hour for o in catalog.offers if o.gpu == r.gpu
                         and o.gpus == r.gpus_per_node and o.spot_price_usd_per_hour is not None) * r.nodes * r.hours
    return total


def _has_on_demand_anywhere(spec: FleetSpec, catalog: Catalog) -> bool:
    return all(any(o.gpu == w.request.gpu and o.gpus == w.request.gpus_per_node and o.price_usd_per_hour is not None
                   for o in catalog.offers) for w in spec.workloads)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets())
def test_plan_fleet_equals_brute_force(fleet):
    catalog, spec = fleet
    if any(not _options(w, catalog) for w in spec.workloads):
        event("a workload has no option")
        with pytest.raises(InfeasibleError, match=r"workload w\d"):
            plan_fleet(spec, catalog)
        return
    best = brute_force(spec, catalog)
    if best is None:
        event("quotas infeasible")
        with pytest.raises(InfeasibleError) as info:
            plan_fleet(spec, catalog)
        message = str(info.value)
        assert "quota" in message or "max_spot_fraction" in message
        named = [q.label() for q in spec.quotas if q.label() in message]
        assert named or "max_spot_fraction" in message or "cannot hold" in message
        return
    event("optimal" if _has_on_demand_anywhere(spec, catalog) else "optimal, spot-only baseline")
    plan = plan_fleet(spec, catalog)
    assert plan.status == "optimal"
    # Every workload exactly once, in the spec's order.
    assert [name for name, _ in plan.assignments] == [w.name for w in spec.workloads]
    assert plan.total_usd == pytest.approx(sum(p.total_usd for _, p in plan.assignments), rel=1e-12)
    assert plan.total_usd == pytest.approx(best, rel=1e-9, abs=1e-6)
    by_name = {w.name: w for w in spec.workloads}
    for name, p in plan.assignments:
        r = by_name[name].request
        o = catalog.offers[p.offer_index]
        assert (p.gpu, p.gpus_per_node, p.nodes) == (r.gpu, r.gpus_per_node, r.nodes)
        assert not r.clouds or p.cloud in r.clouds
        assert r.spot or not p.spot
        assert p.total_usd == pytest.approx(o.price(p.spot) * r.nodes * r.hours, rel=1e-12)
    for q in spec.quotas:
        used = sum(by_name[n].request.total_gpus for n, p in plan.assignments if q.covers(p.cloud, p.region, p.gpu))
        assert used <= q.max_gpus
    assert plan.naive_total_usd == pytest.approx(naive_by_contract(spec, catalog), rel=1e-12)


# ---------------------------------------------------------------- worked examples on the bundled catalog

def _spec(text: str) -> FleetSpec:
    import yaml

    return parse_fleet_spec(yaml.safe_load(text), "plan.yaml")


def test_quota_moves_work_to_the_next_cheapest_cloud(bundled_catalog):
    free = plan_fleet(_spec("workloads:\n  - {name: a, gpu: H100, gpus: 8, nodes: 2, hours: 10}\n"), bundled_catalog)
    [(_, first)] = free.assignments
    capped = plan_fleet(_spec(f"""
workloads:
  - {{name: a, gpu: H100, gpus: 8, nodes: 2, hours: 10}}
quotas:
  - {{cloud: {first.cloud}, gpu: H100, max_gpus: 8}}
"""), bundled_catalog)
    [(_, second)] = capped.assignments
    assert second.cloud != first.cloud
    assert capped.total_usd >= free.total_usd
    [(label, used, limit)] = capped.quota_use
    assert used == 0 and limit == 8


def test_infeasible_quota_is_named(bundled_catalog, cli, tmp_path):
    text = """
workloads:
  - {name: big, gpu: H100, gpus: 8, nodes: 4, hours: 5, clouds: [aws]}
quotas:
  - {cloud: aws, gpu: H100, max_gpus: 16}
  - {cloud: gcp, max_gpus: 1000}
"""
    with pytest.raises(InfeasibleError, match=r"quota aws/H100 max_gpus=16 \(short by 16 GPUs\)") as info:
        plan_fleet(_spec(text), bundled_catalog)
    assert "gcp" not in str(info.value)
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    result = cli("plan", path, "--json")
    assert result.code == 1 and result.out == ""
    assert len(result.err_lines) == 1 and "aws/H100" in result.err_lines[0]


def test_infeasible_workload_is_named(bundled_catalog):
    with pytest.raises(InfeasibleError, match="workload odd"):
        plan_fleet(_spec("workloads:\n  - {name: odd, gpu: H100, gpus: 3, hours: 1}\n"), bundled_catalog)


def test_naive_baseline_uses_the_habit_cloud(bundled_catalog):
    spec = _spec("""
workloads:
  - {name: a, gpu: H100, gpus: 8, hours: 10}
  - {name: b, gpu: L4, gpus: 1, hours: 100, clouds: [gcp, aws]}
default_cloud: aws
""")
    plan = plan_fleet(spec, bundled_catalog)
    assert plan.naive_total_usd == pytest.approx(naive_by_contract(spec, bundled_catalog), rel=1e-12)
    aws_h100 = min(o.price_usd_per_hour for o in bundled_catalog.offers
                   if o.cloud == "aws" and o.gpu == "H100" and o.gpus == 8 and o.price_usd_per_hour)
    gcp_l4 = min(o.price_usd_per_hour for o in bundled_catalog.offers
                 if o.cloud == "gcp" and o.gpu == "L4" and o.gpus == 1 and o.price_usd_per_hour)
    assert plan.naive_total_usd == pytest.approx(aws_h100 * 10 + gcp_l4 * 100)
    assert plan.total_usd <= plan.naive_total_usd


def test_naive_falls_back_to_any_cloud(bundled_catalog):
    # No AWS offer has RTX4090s: habit falls back to the cheapest on-demand anywhere.
    spec = _spec("workloads:\n  - {name: a, gpu: RTX4090, gpus: 1, hours: 10}\n")
    anywhere = min(o.price_usd_per_hour for o in bundled_catalog.offers
                   if o.gpu == "RTX4090" and o.gpus == 1 and o.price_usd_per_hour)
    assert plan_fleet(spec, bundled_catalog).naive_total_usd == pytest.approx(anywhere * 10)


def test_plan_does_not_mutate_its_inputs(bundled_catalog):
    spec = _spec("workloads:\n  - {name: a, gpu: T4, gpus: 1, hours: 3, spot: true}\n")
    before = (spec, bundled_catalog.offers)
    plan_fleet(spec, bundled_catalog)
    assert (spec, bundled_catalog.offers) == before


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({}, "workloads"),
        ({"workloads": []}, "workloads"),
        ({"workloads": [{"gpu": "H100", "gpus": 1, "hours": 1}]}, "name"),
        ({"workloads": [{"name": "a", "gpu": "H100", "gpus": -8, "hours": 1}]}, r"gpus` must be >= 1"),
        ({"workloads": [{"name": "a", "gpu": "H100", "gpus": 1, "hours": -1}]}, "hours"),
        ({"workloads": [{"name": "a", "gpu": "H100", "hours": 1}, {"name": "a", "gpu": "L4", "hours": 1}]},
         "duplicate"),
        ({"workloads": [{"name": "a", "gpu": "H100", "hours": 1}], "quotas": [{"cloud": "aws"}]}, "max_gpus"),
        ({"workloads": [{"name": "a", "gpu": "H100", "hours": 1}], "quotas": [{"cloud": "aws", "max_gpus": -1}]},
         r"max_gpus` must be >= 0"),
    ],
)
def test_bad_specs_are_input_errors(data, needle):
    with pytest.raises(InputError, match=needle):
        parse_fleet_spec(data, "plan.yaml")
