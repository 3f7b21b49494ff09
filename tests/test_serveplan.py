"""`costplane serve-plan`: the choice is the brute-force optimum over the same replays, never a candidate
that does not fit, equals `costplane replay` with the written spec; strict profiles; CLI and API shapes."""

from __future__ import annotations

import inspect
import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costplane.autoscale import AutoscaleConfig, ServiceSpec
from costplane.cli import main
from costplane.core.errors import InfeasibleError, InputError
from costplane.core.types import Catalog, Offer
from costplane.replay.inference import replay_inference
from costplane.replay.serve_plan import DEFAULT_POLICY, run_serve_plan
from costplane.serveplan import parse_profile, prepare, require_choice, spot_overhead
from costplane.traces import DemandSeries

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_PROFILE = REPO / "src" / "costplane" / "examples" / "serve-profile.yaml"
BUNDLED_TRACE = REPO / "src" / "costplane" / "examples" / "azure-conv-requests-per-s.csv"


def _offer(cloud, itype, gpu, mem, gpus, vcpus, ram, price, spot=None) -> Offer:
    return Offer(cloud, "r1", None, itype, gpu, mem, gpus, vcpus, ram, price, spot)


# A small catalog: the cheapest H100 machine has a 2-vCPU host (what `host:` minimums are for).
CATALOG = Catalog((
    _offer("a", "h100-tiny", "H100", 80.0, 1, 2, 4, 3.50),
    _offer("b", "h100-1", "H100", 80.0, 1, 16, 128, 4.00, 1.50),
    _offer("b", "h100-2", "H100", 80.0, 2, 32, 256, 8.00, 3.00),
    _offer("c", "a100-1", "A100-80GB", 80.0, 1, 12, 96, 2.50),
    _offer("c", "l4-1", "L4", 24.0, 1, 8, 32, 0.80, 0.30),
    _offer("c", "l4-2", "L4", 24.0, 2, 16, 64, 1.70),
), as_of="test", source="test catalog")


def _series(steps: int = 900, seed: int = 0) -> DemandSeries:
    """Poisson arrivals around 3/s with a slow wave and a burst: enough to make replica size matter."""
    t = np.arange(steps)
    rate = 3.0 + 1.5 * np.sin(2 * np.pi * t / 600) + np.where((t > steps // 2) & (t < steps // 2 + 60), 4.0, 0.0)
    counts = np.random.default_rng(seed).poisson(rate).astype(float)
    return DemandSeries(0.0, 1.0, counts, source="synthetic")


def _profile(**over) -> dict:
    base = {"name": "chat", "slo": {"max_queue_s": 10, "served": 0.96}, "memory_gib": 40, "min_replicas": 0,
            "max_replicas": 40, "scale_to_zero": False, "candidates": [
                {"gpu": "H100", "gpus_per_replica": 1, "capacity_per_replica": 2.0, "cold_start_s": 60},
                {"gpu": "H100", "gpus_per_replica": 2, "capacity_per_replica": 3.6, "cold_start_s": 60},
                {"gpu": "A100-80GB", "gpus_per_replica": 1, "capacity_per_replica": 1.0, "cold_start_s": 60},
                {"gpu": "L4", "gpus_per_replica": 1, "capacity_per_replica": 0.4, "cold_start_s": 30},
                {"gpu": "L4", "gpus_per_replica": 2, "capacity_per_replica": 0.7, "cold_start_s": 40},
            ]}
    base.update(over)
    return base


def brute_force(raw: dict, catalog: Catalog, series: DemandSeries) -> tuple | None:
    """Independent of serveplan: memory from the catalog rows, the cheapest on-demand row by hand (as CONTRACTS.md
    `replay` prices a replica: whatever its host), one replay each."""
    slo = raw["slo"].get("served", 0.999)
    best = None
    for c in raw["candidates"]:
        rows = [o for o in catalog.offers if o.gpu == c["gpu"]]
        need = c.get("memory_gib", raw["memory_gib"])
        if not rows or max(o.gpu_memory_gib for o in rows) * c["gpus_per_replica"] < need:
            continue
        prices = [o.price_usd_per_hour for o in rows if o.gpus == c["gpus_per_replica"] and o.price_usd_per_hour]
        if not prices:
            continue
        spec = ServiceSpec(raw["name"], c["gpu"], c["gpus_per_replica"], c["capacity_per_replica"], c["cold_start_s"],
                           raw.get("min_replicas", 0), raw["max_replicas"], raw.get("scale_to_zero", False),
                           raw["slo"]["max_queue_s"])
        r = replay_inference(series, spec, DEFAULT_POLICY, min(prices), AutoscaleConfig(service=spec), with_oracle=False)
        key = (round(r.cost_usd, 4), -r.demand_served_fraction)
        if r.demand_served_fraction >= slo and (best is None or key < best[0]):
            best = (key, c["gpu"], c["gpus_per_replica"], c.get("variant"), r.demand_served_fraction)
    return best


def test_default_policy_is_replays_default():
    from costplane.cli._replay import replay_cmd

    assert inspect.signature(replay_cmd).parameters["policy"].default == DEFAULT_POLICY


def test_choice_equals_brute_force_over_the_same_replays():
    raw = _profile()
    series = _series()
    plan = run_serve_plan(parse_profile(raw), series, CATALOG)
    best = brute_force(raw, CATALOG, series)
    assert best is not None and plan.choice is not None
    c = plan.choice
    assert (c.setup.gpu, c.setup.candidate.gpus_per_replica, c.purchase) == (best[1], best[2], "on-demand")
    assert c.cost_usd == best[0][0]
    assert c.demand_served_fraction == pytest.approx(best[4], abs=1e-12)
    # the table: every candidate once (no spot allowed), sorted by cost, unpriced last
    costs = [o.cost_usd for o in plan.options]
    assert len(plan.options) == 5 and costs[:4] == sorted(costs[:4]) and costs[4] is None  # L4 x1: 24 < 40 GiB
    # without host minimums in the profile a replica is priced as `costplane replay` prices it (CONTRACTS.md):
    # the cheapest on-demand offer, here the 2-vCPU "h100-tiny"; the profile's own host minimum keeps it out
    h100 = next(o for o in plan.options if o.setup.gpu == "H100" and o.setup.candidate.gpus_per_replica == 1)
    assert h100.price_usd_per_hour == 3.50 and h100.setup.on_demand.instance_type == "h100-tiny"
    hosted = prepare(parse_profile(_profile(host={"min_vcpus_per_gpu": 4, "min_memory_gib_per_gpu": 16})), CATALOG)
    assert hosted[0].on_demand.instance_type == "h100-1" and hosted[0].on_demand.hourly_usd == 4.00


def test_memory_that_does_not_fit_is_never_replayed_or_chosen():
    raw = _profile(memory_gib=30)  # L4 x1 (24 GiB) does not fit, L4 x2 (48 GiB) does
    plan = run_serve_plan(parse_profile(raw), _series(), CATALOG)
    rows = {(o.setup.gpu, o.setup.candidate.gpus_per_replica): o for o in plan.options}
    assert not rows[("L4", 1)].setup.fits_memory and rows[("L4", 1)].cost_usd is None
    assert plan.options[-1] is rows[("L4", 1)]  # unpriced rows sort last
    assert rows[("L4", 2)].setup.fits_memory and rows[("L4", 2)].setup.replica_memory_gib == 48.0
    # a quantised variant with its own, smaller need fits the 24 GiB card
    variant = dict(gpu="L4", gpus_per_replica=1, capacity_per_replica=0.5, cold_start_s=30, variant="int8",
                   memory_gib=20)
    plan = run_serve_plan(parse_profile(_profile(memory_gib=30, candidates=[*raw["candidates"], variant])),
                          _series(), CATALOG)
    fits = {(o.setup.gpu, o.setup.candidate.gpus_per_replica, o.setup.candidate.variant): o.setup.fits_memory
            for o in plan.options}
    assert fits[("L4", 1, "int8")] and not fits[("L4", 1, None)]


GPU_ROWS = [("H100", 1), ("H100", 2), ("A100-80GB", 1), ("L4", 1), ("L4", 2)]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(memory=st.sampled_from([10.0, 30.0, 60.0, 100.0, 170.0]),
       rows=st.lists(st.tuples(st.sampled_from(GPU_ROWS), st.floats(0.3, 6.0), st.sampled_from([0, 20, 60, 90])),
                     min_size=1, max_size=4, unique_by=lambda r: r[0]),
       served=st.sampled_from([0.9, 0.99, 0.999]), max_replicas=st.integers(2, 30))
def test_property_choice_fits_memory_and_is_the_brute_force_optimum(memory, rows, served, max_replicas):
    raw = _profile(memory_gib=memory, max_replicas=max_replicas, slo={"max_queue_s": 5, "served": served},
                   candidates=[{"gpu": g, "gpus_per_replica": n, "capacity_per_replica": round(cap, 3),
                                "cold_start_s": cs} for (g, n), cap, cs in rows])
    series = _series(400, seed=1)
    plan = run_serve_plan(parse_profile(raw), series, CATALOG)
    for o in plan.options:
        if not o.setup.fits_memory:
            assert o.cost_usd is None and not o.meets_slo
    best = brute_force(raw, CATALOG, series)
    if best is None:
        assert plan.choice is None
        with pytest.raises(InfeasibleError, match="best served share|fits the memory need"):
            require_choice(plan)
        return
    c = plan.choice
    assert c is not None and c.setup.fits_memory and c.setup.replica_memory_gib >= memory
    assert (c.cost_usd, c.setup.gpu, c.setup.candidate.gpus_per_replica) == (best[0][0], best[1], best[2])


def test_spot_and_mixed_fleets_use_train_plans_interruption_model():
    # to first order an interruption costs one cold start of paid, non-serving time
    assert spot_overhead(0.0, 120, 1.0) == pytest.approx(1.0)
    assert spot_overhead(0.1, 120, 1.0) == pytest.approx(1 + 0.1 * 120 / 3600, rel=1e-4)
    raw = _profile(allow_spot=True, slo={"max_queue_s": 10, "served": 0.999},
                   candidates=[{"gpu": "H100", "gpus_per_replica": 1, "capacity_per_replica": 2.0, "cold_start_s": 300}],
                   interruption_rates={"b": 0.2})
    series = _series(1800)
    plan = run_serve_plan(parse_profile(raw), series, CATALOG)
    by = {o.purchase: o for o in plan.options}
    od, spot = by["on-demand"], by["spot"]
    rh = od.replay["replica_hours"]
    factor = spot_overhead(0.2, 300, 1.0)
    assert spot.cost_usd == pytest.approx(rh * 1.50 * factor, abs=1e-4)
    assert spot.expected_interruptions == pytest.approx(0.2 * rh)
    lost = 0.2 * rh * 300 * 2.0  # interruptions x cold start x capacity
    total = od.replay["served_units"] + od.replay["unserved_units"]
    assert spot.slo_served_fraction == pytest.approx((od.replay["served_units"] - lost) / total)
    assert spot.demand_served_fraction == od.demand_served_fraction  # the replay's own, as `replay` reports
    if "mixed" in by:  # a floor of on-demand replicas: cheaper than all on-demand, meets the SLO bound
        m = by["mixed"]
        assert m.meets_slo and m.cost_usd < od.cost_usd and 0 < m.on_demand_floor < od.replay["peak_replicas"]
        up = np.sort(np.asarray(replay_inference(series, plan.options[0].setup.spec, "hybrid", 3.5,
                                                 with_oracle=False).up_replicas))
        od_h = np.minimum(up, m.on_demand_floor).sum() / 3600
        assert m.cost_usd == pytest.approx(od_h * 3.50 + (up.sum() / 3600 - od_h) * 1.50 * factor, abs=1e-4)
    front = [(o.cost_usd, o.slo_served_fraction) for o in plan.frontier]
    assert front == sorted(front) and all(b[1] > a[1] for a, b in zip(front, front[1:]))


@pytest.mark.parametrize("raw, expect", [
    (_profile(candidates=[{"gpu": "H100", "gpus_per_replica": 1, "capacity_per_replicas": 2.0, "cold_start_s": 60}]),
     "unknown key `capacity_per_replicas`.*did you mean `capacity_per_replica`"),
    ({k: v for k, v in _profile().items() if k != "max_replicas"}, "missing `max_replicas`"),
    (_profile(slo={"max_queue_s": 10, "served": 99.9}), r"slo.served` must be <= 1, got 99.9"),
    (_profile(memory_gib=True), "memory_gib"),
    (_profile(min_replicas=5, max_replicas=2), "min_replicas 5 > max_replicas 2"),
    (_profile(candidates=[{"gpu": "L4", "gpus_per_replica": 1, "capacity_per_replica": 1, "cold_start_s": 1}] * 2),
     "repeats candidates"),
    (_profile(candidates=[]), "candidates"),
    (_profile(alow_spot=True), "did you mean `allow_spot`"),
])
def test_bad_profiles_get_one_clear_error(raw, expect):
    with pytest.raises(InputError, match=expect) as info:
        parse_profile(raw, "p.yaml")
    assert info.value.fix and str(info.value).startswith("p.yaml")


def test_unknown_gpu_names_the_nearest(tmp_path):
    raw = _profile(candidates=[{"gpu": "H1000", "gpus_per_replica": 1, "capacity_per_replica": 1, "cold_start_s": 1}])
    with pytest.raises(InputError, match="unknown GPU model 'H1000'"):
        prepare(parse_profile(raw), CATALOG)


@pytest.fixture
def run(capsys):
    def _run(*args: str) -> subprocess.CompletedProcess:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, captured.out, captured.err)

    return _run


CONTRACT_PROFILE = """\
name: chat
slo: {max_queue_s: 30, served: 0.999}
memory_gib: 40
min_replicas: 1
max_replicas: 64
scale_to_zero: false
candidates:
  - {gpu: H100, gpus_per_replica: 1, capacity_per_replica: 4.0, cold_start_s: 120}
  - {gpu: L4, gpus_per_replica: 2, capacity_per_replica: 1.1, cold_start_s: 90}
  - {gpu: L4, gpus_per_replica: 1, capacity_per_replica: 0.6, cold_start_s: 90}
"""


def test_cli_json_shape_and_choice_equals_replay_with_the_written_spec(run, tmp_path):
    profile = tmp_path / "p.yaml"
    profile.write_text(CONTRACT_PROFILE)
    spec = tmp_path / "spec.yaml"
    png = tmp_path / "plan.png"
    r = run("serve-plan", profile, "--trace", BUNDLED_TRACE, "--json", "--write-spec", spec, "--plot", png)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert {"gpu", "gpus_per_replica", "spot", "cost_usd", "demand_served_fraction"} <= set(d["choice"])
    for row in d["candidates"]:
        assert {"gpu", "gpus_per_replica", "spot", "fits_memory", "cost_usd", "demand_served_fraction",
                "cost_ratio_to_oracle"} <= set(row)
    priced = [row["cost_usd"] for row in d["candidates"] if row["cost_usd"] is not None]
    assert priced == sorted(priced) and d["candidates"][-1]["fits_memory"] is False  # L4 x1: 24 < 40 GiB
    assert d["frontier"] and png.stat().st_size > 10_000
    # the contract's check: `costplane replay` with the candidate's spec reports the same cost and service
    written = yaml.safe_load(spec.read_text())
    assert "price_usd_per_hour" not in written  # on demand, no host minimums: the catalog prices it, as replay does
    assert (written["gpu"], written["gpus_per_replica"]) == (d["choice"]["gpu"], d["choice"]["gpus_per_replica"])
    rr = run("replay", "--trace", BUNDLED_TRACE, "--service", spec, "--oracle-milp-nodes", "0", "--json")
    assert rr.returncode == 0, rr.stderr
    rep = json.loads(rr.stdout)
    assert rep["cost_usd"] == d["choice"]["cost_usd"]
    assert rep["demand_served_fraction"] == d["choice"]["demand_served_fraction"]
    assert rep["cost_ratio_to_oracle"] == pytest.approx(d["choice"]["cost_ratio_to_oracle"])


def test_example_profile_spot_choice_replays_to_the_same_cost(run, tmp_path):
    spec = tmp_path / "spec.yaml"
    sky = tmp_path / "sky.yaml"
    r = run("serve-plan", EXAMPLE_PROFILE, "--json", "--write-spec", spec, "--sky-yaml", sky)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    written = yaml.safe_load(spec.read_text())
    assert written["price_usd_per_hour"] == pytest.approx(d["choice"]["price_usd_per_hour"])
    rr = run("replay", "--service", spec, "--oracle-milp-nodes", "0", "--json")
    rep = json.loads(rr.stdout)
    assert rep["cost_usd"] == pytest.approx(d["choice"]["cost_usd"], abs=1e-4)
    assert rep["demand_served_fraction"] == d["choice"]["demand_served_fraction"]
    task = yaml.safe_load(sky.read_text())
    assert task["resources"]["accelerators"] == f"{d['choice']['gpu']}:{d['choice']['gpus_per_replica']}"
    assert d["baseline"]["gpu"] == "B200" and d["saving_vs_baseline"]["usd"] > 0
    assert all(row["gpu"] != "L4" or row["variant"] or row["gpus_per_replica"] == 2 or not row["fits_memory"]
               for row in d["candidates"])


def test_cli_no_candidate_meets_the_slo_exits_nonzero_naming_the_best_share(run, tmp_path):
    profile = tmp_path / "p.yaml"
    profile.write_text(CONTRACT_PROFILE.replace("max_replicas: 64", "max_replicas: 1"))
    r = run("serve-plan", profile, "--json")
    assert r.returncode == 1 and r.stdout == ""
    line = r.stderr.strip()
    assert "\n" not in line and "best served share is" in line and "To fix:" in line
    bad = tmp_path / "bad.yaml"
    bad.write_text(CONTRACT_PROFILE.replace("memory_gib: 40", "memory_gb: 40"))
    r = run("serve-plan", bad, "--json")
    assert r.returncode != 0 and "line 3" in r.stderr and "memory_gb" in r.stderr


def test_api_route(tmp_path):
    from api_fixtures import running_world

    counts = [float(x) for x in _series(600).counts]
    profile = yaml.safe_load(CONTRACT_PROFILE)
    with running_world(f"sqlite:///{tmp_path / 'sp.db'}") as w:
        assert w.client.post("/api/v1/serve-plan", json={"profile": profile, "counts": counts}).status_code == 401
        r = w.client.post("/api/v1/serve-plan", json={"profile": profile, "counts": counts},
                          headers=w.auth("view-product"))
        assert r.status_code == 200, r.text
        d = r.json()
        series = DemandSeries(0.0, 1.0, np.asarray(counts), source="x")
        local = run_serve_plan(parse_profile(profile), series, w.app.state.catalog or _catalog())
        assert d["choice"]["cost_usd"] == local.choice.cost_usd and d["choice"]["gpu"] == local.choice.setup.gpu
        assert all(math.isfinite(row["cost_usd"]) for row in d["candidates"] if row["cost_usd"] is not None)
        bad = dict(profile, candidate=profile["candidates"])
        assert w.client.post("/api/v1/serve-plan", json={"profile": bad, "counts": counts},
                             headers=w.auth("view-product")).status_code == 422
        none = dict(profile, max_replicas=1)
        r = w.client.post("/api/v1/serve-plan", json={"profile": none, "counts": [50.0] * 300},
                          headers=w.auth("view-product"))
        assert r.status_code == 422 and "best served share" in r.json()["error"]["message"]


def _catalog() -> Catalog:
    from costplane.catalog import load_catalog

    return load_catalog()
