"""`place()` against a brute force over every catalog offer, infeasibility messages, and GPU-name suggestions."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from costplane.core.errors import InfeasibleError, UnknownGpuError
from costplane.core.types import Catalog
from costplane.placement import PlacementRequest, place


def brute_force(request: PlacementRequest, catalog: Catalog) -> list[tuple[float, float, int, bool]]:
    """Every (total, hourly, offer index, spot) option, by a plain loop with the same feasibility rules."""
    options = []
    for k, o in enumerate(catalog.offers):
        if o.gpu != request.gpu or o.gpus != request.gpus_per_node:
            continue
        if request.clouds and o.cloud not in request.clouds:
            continue
        if request.regions and o.region not in request.regions:
            continue
        if o.gpu_memory_gib < request.min_gpu_memory_gib or o.vcpus < request.min_vcpus:
            continue
        if o.memory_gib < request.min_memory_gib:
            continue
        if request.host_minimums:  # 4 vCPUs / 16 GiB per datacenter GPU, 2 / 8 per other GPU, 4 / 16 a node
            per = (4, 16) if o.gpu in host_dc_gpus() else (2, 8)
            if o.vcpus < max(per[0] * o.gpus, 4) or o.memory_gib < max(per[1] * o.gpus, 16):
                continue
        for spot in (False, True) if request.spot else (False,):
            price = o.price(spot)
            if price is not None:
                hourly = price * request.nodes
                options.append((hourly * request.hours, hourly, k, spot))
    return sorted(options)


def host_dc_gpus():
    from costplane.placement._request import DATACENTER_GPUS

    return DATACENTER_GPUS


@st.composite
def requests(draw, catalog: Catalog):
    gpu = draw(st.sampled_from(catalog.gpu_models))
    # Mostly regions/clouds where this GPU exists, sometimes any: both feasible and infeasible cases.
    with_gpu = [o for o in catalog.offers if o.gpu == gpu]
    cloud_pool = sorted({o.cloud for o in (with_gpu if draw(st.booleans()) else catalog.offers)})
    region_pool = sorted({o.region for o in with_gpu})
    return PlacementRequest(
        gpu=gpu,
        gpus_per_node=draw(st.sampled_from([1, 2, 4, 8])),
        nodes=draw(st.integers(1, 6)),
        hours=draw(st.floats(0.25, 2000.0, allow_nan=False)),
        min_vcpus=draw(st.sampled_from([0.0, 0.0, 8.0, 64.0])),
        clouds=tuple(draw(st.lists(st.sampled_from(cloud_pool), max_size=3, unique=True))),
        regions=tuple(draw(st.lists(st.sampled_from(region_pool), max_size=3, unique=True))),
        spot=draw(st.booleans()),
        host_minimums=draw(st.booleans()),
    )


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_place_equals_brute_force(bundled_catalog, data):
    request = data.draw(requests(bundled_catalog))
    expected = brute_force(request, bundled_catalog)
    event("feasible" if expected else "infeasible")
    if not expected:
        with pytest.raises(InfeasibleError):
            place(request, bundled_catalog)
        return
    got = place(request, bundled_catalog, limit=None)
    totals = [p.total_usd for p in got]
    assert totals == sorted(totals)
    assert len(got) == len(expected)
    assert totals[0] == pytest.approx(expected[0][0], rel=1e-12)
    assert totals == pytest.approx([e[0] for e in expected], rel=1e-12)
    for p in got:
        o = bundled_catalog.offers[p.offer_index]
        where = (p.cloud, p.region, p.zone, p.instance_type, p.gpu)
        assert where == (o.cloud, o.region, o.zone, o.instance_type, o.gpu)
        assert p.gpus_per_node == request.gpus_per_node and p.nodes == request.nodes
        assert p.hourly_usd == pytest.approx(o.price(p.spot) * request.nodes, rel=1e-12)
        assert p.total_usd == pytest.approx(p.hourly_usd * request.hours, rel=1e-12)
        assert request.spot or not p.spot
    # The default limit keeps the cheapest prefix.
    assert [p.total_usd for p in place(request, bundled_catalog, limit=5)] == totals[:5]


def test_spot_is_only_used_when_asked(bundled_catalog):
    on_demand = place(PlacementRequest("H100", 8, 1, 10.0), bundled_catalog, limit=None)
    both = place(PlacementRequest("H100", 8, 1, 10.0, spot=True), bundled_catalog, limit=None)
    assert not any(p.spot for p in on_demand)
    assert any(p.spot for p in both)
    assert both[0].total_usd <= on_demand[0].total_usd


def test_cheapest_h100_node_is_a_real_price(bundled_catalog):
    best = place(PlacementRequest("H100", 8, 2, 10.0), bundled_catalog)[0]
    o = bundled_catalog.offers[best.offer_index]
    assert best.hourly_usd == pytest.approx(2 * o.price_usd_per_hour)
    assert best.total_usd == pytest.approx(20 * o.price_usd_per_hour)
    assert o.price_usd_per_hour == min(x.price_usd_per_hour for x in bundled_catalog.offers
                                       if x.gpu == "H100" and x.gpus == 8 and x.price_usd_per_hour is not None)


# ---------------------------------------------------------------- nothing feasible: name the constraint

@pytest.mark.parametrize(
    ("request_kwargs", "named"),
    [
        ({"gpu": "H100", "gpus_per_node": 3}, "3 GPUs per node"),
        ({"gpu": "H100", "gpus_per_node": 8, "regions": ("mars-north-1",)}, "region in mars-north-1"),
        ({"gpu": "RTX4090", "clouds": ("aws",)}, "cloud in aws"),
        ({"gpu": "T4", "gpus_per_node": 1, "min_vcpus": 100000.0}, "vCPUs"),
        ({"gpu": "T4", "gpus_per_node": 1, "min_memory_gib": 1e7}, "memory"),
        ({"gpu": "L4", "min_gpu_memory_gib": 1000.0}, "GPU memory"),
    ],
)
def test_infeasible_names_the_constraint(bundled_catalog, request_kwargs, named):
    with pytest.raises(InfeasibleError) as info:
        place(PlacementRequest(**request_kwargs), bundled_catalog)
    assert named in str(info.value)
    assert "To fix" in str(info.value)


def test_infeasible_place_exits_one_with_the_constraint(cli):
    result = cli("place", "--gpu", "H100", "--gpus", "3", "--hours", "1", "--json")
    assert result.code == 1 and result.out == ""
    assert len(result.err_lines) == 1 and "3 GPUs per node" in result.err_lines[0]


def test_on_demand_only_offer_is_infeasible_without_spot(tmp_path):
    from costplane.core.types import Offer

    cat = Catalog((Offer("aws", "us-west-2", "z", "p5e.48xlarge", "H200", 141.0, 8, 192.0, 2048.0, None, 19.5),),
                  "x", "x")
    with pytest.raises(InfeasibleError, match="on-demand price"):
        place(PlacementRequest("H200", 8, 1, 1.0), cat)
    [p] = place(PlacementRequest("H200", 8, 1, 2.0, spot=True), cat)
    assert p.spot and p.total_usd == pytest.approx(39.0)


# ---------------------------------------------------------------- unknown GPU: nearest names

@pytest.mark.parametrize(("typo", "suggested"), [("H1000", "H100"), ("A10O", "A100"), ("L40X", "L40S"),
                                                 ("h200x", "H200")])
def test_unknown_gpu_suggests_nearest_names(bundled_catalog, typo, suggested):
    with pytest.raises(UnknownGpuError) as info:
        place(PlacementRequest(typo, 1, 1, 1.0), bundled_catalog)
    assert suggested in str(info.value).split("nearest known:")[1]


@pytest.mark.parametrize("alias", ["H100-SXM", "h100", "H100-80GB", "H100-MEGA"])
def test_cloud_spellings_resolve(bundled_catalog, alias):
    assert place(PlacementRequest(alias, 8, 1, 1.0), bundled_catalog)[0].gpu == "H100"


def test_unknown_gpu_on_the_cli_is_one_line(cli):
    result = cli("place", "--gpu", "H1000", "--gpus", "8", "--hours", "1", "--json")
    assert result.code != 0 and result.out == ""
    assert len(result.err_lines) == 1 and "H100" in result.err_lines[0]


@pytest.mark.parametrize("args", [("--hours", "0"), ("--hours", "-3"), ("--gpus", "0"), ("--nodes", "-1")])
def test_bad_request_values_are_one_line_errors(cli, args):
    result = cli("place", "--gpu", "H100", *args, "--json")
    assert result.code not in (0,) and len(result.err_lines) == 1


def test_totals_are_finite(bundled_catalog):
    for p in place(PlacementRequest("T4", 1, 1, 24.0, spot=True), bundled_catalog, limit=None):
        assert math.isfinite(p.total_usd) and p.total_usd > 0


def test_host_minimums_keep_gpus_off_2_vcpu_boxes(bundled_catalog):
    from costplane.placement import host_minimums

    assert host_minimums("H100", 1) == (4.0, 16.0) and host_minimums("H100", 8) == (32.0, 128.0)
    assert host_minimums("T4", 1) == (4.0, 16.0) and host_minimums("L4", 4) == (8.0, 32.0)
    for gpu in ("H100", "A40"):
        best = place(PlacementRequest(gpu=gpu, hours=1.0), bundled_catalog, limit=1)[0]
        o = bundled_catalog.offers[best.offer_index]
        assert o.vcpus >= 4 and o.memory_gib >= 16, o
        bare = place(PlacementRequest(gpu=gpu, hours=1.0, host_minimums=False), bundled_catalog, limit=1)[0]
        assert bare.hourly_usd <= best.hourly_usd  # the 2-vCPU/4-GiB slice is cheaper on paper
    # the workload's own need applies on top
    big = place(PlacementRequest(gpu="H100", min_vcpus=20, min_memory_gib=100, hours=1.0), bundled_catalog, limit=1)[0]
    o = bundled_catalog.offers[big.offer_index]
    assert o.vcpus >= 20 and o.memory_gib >= 100
