"""External contracts (../shared/CONTRACTS.md) on inputs the project has not seen: valid variants of each format.

Every variant is derived at test time, in tmp_path, from ../shared/data (subsets, reordered columns, CRLF,
renamed clouds, shifted clocks) or synthesised; nothing from the shared data is committed. Each case runs the
installed `costplane` executable as an outside checker would and asserts the contract's keys, units and
invariants; user errors must exit non-zero with exactly one line on stderr.
"""

from __future__ import annotations

import csv
import json
import math
import random
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT / ".." / "shared"
DATA = SHARED / "data"
SKYPILOT = DATA / "catalog" / "skypilot-v8"
TRACES = DATA / "traces"
EXE = Path(sys.executable).with_name("costplane")

pytestmark = pytest.mark.skipif(not SKYPILOT.is_dir() or not EXE.exists(),
                                reason="needs ../shared/data and the installed costplane executable")

OFFER_KEYS = {"cloud", "region", "zone", "instance_type", "gpu", "gpu_memory_gib", "gpus", "vcpus", "memory_gib",
              "price_usd_per_hour", "spot_price_usd_per_hour"}
PLACE_KEYS = {"cloud", "region", "zone", "instance_type", "gpu", "gpus_per_node", "nodes", "spot", "hourly_usd",
              "total_usd"}
PLAN_KEYS = {"workload", "cloud", "region", "instance_type", "gpu", "gpus_per_node", "nodes", "spot", "hourly_usd",
             "total_usd"}
REPLAY_KEYS = {"policy", "cost_usd", "oracle_cost_usd", "cost_ratio_to_oracle", "demand_served_fraction",
               "gpu_hours", "cold_starts", "peak_replicas"}
JOBS_KEYS = {"policy", "jobs", "avg_jct_s", "p95_jct_s", "avg_queue_s", "gpu_utilisation", "gpu_hours", "cost_usd",
             "preemptions", "deadline_misses", "rejected"}
WASTE_ROW_KEYS = {"workload", "paid_gpu_hours", "used_gpu_hours", "efficiency", "idle_usd", "recommendation",
                  "monthly_saving_usd"}
FORECAST_KEYS = {"model", "series", "horizon", "windows", "mase", "smape", "seconds"}


# ---------------------------------------------------------------- running the executable


def run_cli(*args: object, env_home: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ)
    if env_home is not None:  # a private store: never the developer's ~/.costplane
        env["COSTPLANE_HOME"] = str(env_home)
        env.pop("COSTPLANE_DB_URL", None)
    return subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env)


def ok_json(*args: object, **kw) -> dict:
    p = run_cli(*args, "--json", **kw)
    assert p.returncode == 0, f"exit {p.returncode}: {p.stderr.strip()[-600:]}"
    return json.loads(p.stdout)


def user_error(*args: object, **kw) -> str:
    p = run_cli(*args, **kw)
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert p.returncode != 0, f"expected a user error, got exit 0: {p.stdout[:300]}"
    assert len(lines) == 1, f"stderr must be one line, got {len(lines)}:\n{p.stderr[-1500:]}"
    assert "Traceback" not in p.stderr
    return lines[0]


# ---------------------------------------------------------------- derived inputs


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def write_rows(path: Path, header: list[str], rows: list[dict], crlf: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, lineterminator="\r\n" if crlf else "\n",
                                extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def variant_catalog(tmp_path_factory) -> Path:
    """A v8 directory of three clouds: aws with reversed columns and CRLF, lambda with spot emptied on
    half its rows, and `runpod` (a cloud name never seen) holding only the common columns, derived from lambda."""
    root = tmp_path_factory.mktemp("cat") / "skypilot"
    header, rows = read_rows(SKYPILOT / "aws" / "vms.csv")
    write_rows(root / "aws" / "vms.csv", list(reversed(header)), rows, crlf=True)
    header, rows = read_rows(SKYPILOT / "lambda" / "vms.csv")
    for i, row in enumerate(rows):
        if i % 2:
            row["SpotPrice"] = ""
    write_rows(root / "lambda" / "vms.csv", header, rows)
    common = ["InstanceType", "AcceleratorName", "AcceleratorCount", "vCPUs", "MemoryGiB", "Price", "Region",
              "SpotPrice"]
    runpod = [dict(r, InstanceType="rp-" + r["InstanceType"], Region="rp-" + r["Region"],
                   AcceleratorName="NVIDIA H100 80GB HBM3",  # the nvidia-smi spelling
                   Price=f"{float(r['Price']) * 0.9:.4f}" if r["Price"] else "", SpotPrice="")
              for r in rows if r.get("AcceleratorName") == "H100"]
    assert runpod, "lambda lists H100 offers"
    write_rows(root / "runpod" / "vms.csv", common, runpod)
    return root


@pytest.fixture(scope="module")
def catalog_offers(variant_catalog) -> dict:
    return ok_json("catalog", "--catalog", variant_catalog)


# ---------------------------------------------------------------- catalog


def test_catalog_variant_directory_keeps_contract_shape(catalog_offers):
    out = catalog_offers
    assert isinstance(out["as_of"], str) and isinstance(out["source"], str)
    assert out["offers"]
    for o in out["offers"]:
        assert OFFER_KEYS <= set(o)
        assert o["price_usd_per_hour"] is None or o["price_usd_per_hour"] >= 0
        assert o["spot_price_usd_per_hour"] is None or o["spot_price_usd_per_hour"] >= 0
        assert o["gpus"] >= 1 and o["gpu_memory_gib"] >= 0
    clouds = {o["cloud"] for o in out["offers"]}
    assert clouds == {"aws", "lambda", "runpod"}
    runpod = [o for o in out["offers"] if o["cloud"] == "runpod"]
    assert all(o["gpu"] == "H100" and o["spot_price_usd_per_hour"] is None for o in runpod)
    assert any(o["spot_price_usd_per_hour"] is None for o in out["offers"] if o["cloud"] == "lambda")
    # CRLF must not leak into values (a zone of 'use1-az1\r' would be a different zone)
    assert not any("\r" in str(v) for o in out["offers"] for v in o.values())


def test_catalog_filters_and_project_csv_roundtrip(tmp_path, variant_catalog, catalog_offers):
    h100 = ok_json("catalog", "--catalog", variant_catalog, "--gpu", "h100-80gb", "--cloud", "RunPod")
    assert h100["offers"] and {o["cloud"] for o in h100["offers"]} == {"runpod"}
    assert all(o["gpu"] == "H100" for o in h100["offers"])
    # The project's own CSV, written from `catalog --json`, columns in another order, read back.
    columns = sorted(OFFER_KEYS, reverse=True)
    rows = [{k: ("" if o[k] is None else o[k]) for k in columns} for o in catalog_offers["offers"]]
    path = write_rows(tmp_path / "mine.csv", columns, rows, crlf=True)
    back = ok_json("catalog", "--catalog", path)
    assert len(back["offers"]) == len(catalog_offers["offers"])
    key = lambda o: (o["cloud"], o["region"], o["zone"] or "", o["instance_type"])  # noqa: E731
    before = {key(o): o for o in catalog_offers["offers"]}
    for o in back["offers"]:
        assert o["price_usd_per_hour"] == pytest.approx(before[key(o)]["price_usd_per_hour"])
        assert o["gpu"] == before[key(o)]["gpu"]


def test_catalog_user_errors_are_one_line(tmp_path):
    bad = write_rows(tmp_path / "bad.csv", ["cloud", "region"], [{"cloud": "aws", "region": "x"}])
    assert "bad.csv" in user_error("catalog", "--catalog", bad, "--json")
    user_error("catalog", "--catalog", tmp_path / "missing", "--gpu", "H100", "--json")


# ---------------------------------------------------------------- place


def assert_place(out: dict, hours: float, nodes: int) -> list[dict]:
    offers = out["offers"]
    assert offers and "request" in out
    totals = [o["total_usd"] for o in offers]
    assert totals == sorted(totals)
    for o in offers:
        assert PLACE_KEYS <= set(o)
        assert o["nodes"] == nodes
        assert o["total_usd"] == pytest.approx(o["hourly_usd"] * hours, rel=1e-6, abs=0.01)
    return offers


def test_place_spot_nodes_and_filters_on_variant_catalog(variant_catalog, catalog_offers):
    offers = assert_place(ok_json("place", "--gpu", "H100", "--gpus", "8", "--nodes", "2", "--hours", "3.5",
                                  "--spot", "--catalog", variant_catalog), 3.5, 2)
    cat = {(o["cloud"], o["region"], o["zone"], o["instance_type"]): o for o in catalog_offers["offers"]}
    for o in offers:
        src = cat[(o["cloud"], o["region"], o["zone"], o["instance_type"])]
        price = src["spot_price_usd_per_hour"] if o["spot"] else src["price_usd_per_hour"]
        assert o["hourly_usd"] == pytest.approx(2 * price, rel=1e-6), "hourly_usd is the price of all nodes together"
    assert any(o["spot"] for o in offers) and not all(o["spot"] for o in offers)
    region = next(o["region"] for o in catalog_offers["offers"] if o["cloud"] == "runpod")
    only = assert_place(ok_json("place", "--gpu", "H100", "--gpus", "8", "--hours", "2", "--cloud", "runpod",
                                "--region", region, "--catalog", variant_catalog), 2, 1)
    assert {(o["cloud"], o["region"], o["spot"]) for o in only} == {("runpod", region, False)}


@pytest.mark.slow
def test_place_gpu_only_one_cloud_has():
    full = ok_json("catalog", "--catalog", SKYPILOT)["offers"]
    clouds_of: dict[str, set[str]] = {}
    for o in full:
        if o["price_usd_per_hour"]:
            clouds_of.setdefault(o["gpu"], set()).add(o["cloud"])
    gpu, clouds = sorted((g, c) for g, c in clouds_of.items() if len(c) == 1)[0]
    offers = assert_place(ok_json("place", "--gpu", gpu, "--hours", "1", "--catalog", SKYPILOT), 1, 1)
    assert {o["cloud"] for o in offers} == clouds
    msg = user_error("place", "--gpu", "H100", "--gpus", "8", "--hours", "1", "--cloud", "nowhere", "--json")
    assert "nowhere" in msg or "cloud" in msg
    user_error("place", "--gpu", "H100", "--hours", "0", "--json")
    user_error("place", "--gpu", "H100", "--hours", "abc", "--json")


# ---------------------------------------------------------------- plan


def test_plan_region_quotas_default_gcp_and_catalog_dir(tmp_path):
    spec = {
        "workloads": [
            {"name": "a", "gpu": "A100", "gpus": 8, "hours": 10},
            {"name": "b", "gpu": "A100", "gpus": 8, "hours": 5, "clouds": ["gcp", "aws"]},
            {"name": "c", "gpu": "L4", "gpus": 1, "nodes": 2, "hours": 72, "spot": True},
            {"name": "d", "gpu": "T4", "gpus": 1, "hours": 3},
        ],
        "quotas": [{"cloud": "gcp", "region": "us-central1", "gpu": "A100", "max_gpus": 8},
                   {"cloud": "gcp", "max_gpus": 20}],
        "default_cloud": "gcp",
    }
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps(spec))
    out = ok_json("plan", path, "--catalog", SKYPILOT)
    assert out["status"] == "optimal"
    assert sorted(a["workload"] for a in out["assignments"]) == ["a", "b", "c", "d"]
    assert out["total_usd"] == pytest.approx(sum(a["total_usd"] for a in out["assignments"]), abs=0.01)
    assert out["naive_total_usd"] >= out["total_usd"] - 0.01
    used_central = sum(a["gpus_per_node"] * a["nodes"] for a in out["assignments"]
                       if a["cloud"] == "gcp" and a["region"] == "us-central1" and a["gpu"] == "A100")
    used_gcp = sum(a["gpus_per_node"] * a["nodes"] for a in out["assignments"] if a["cloud"] == "gcp")
    assert used_central <= 8 and used_gcp <= 20
    for a in out["assignments"]:
        assert PLAN_KEYS <= set(a)
        hours = {w["name"]: w["hours"] for w in spec["workloads"]}[a["workload"]]
        assert a["total_usd"] == pytest.approx(a["hourly_usd"] * hours, rel=1e-6, abs=0.01)
    assert next(a for a in out["assignments"] if a["workload"] == "b")["cloud"] in ("gcp", "aws")
    # naive: each workload on the cheapest on-demand offer of default_cloud (gcp), or of its first named cloud,
    # as CONTRACTS.md defines it: the raw cheapest offer, whatever its host (placement's host minimums apply to
    # the plan itself, not to the habit it is compared with)
    offers = ok_json("catalog", "--catalog", SKYPILOT)["offers"]
    naive = 0.0
    for w in spec["workloads"]:
        cloud = (w.get("clouds") or [spec["default_cloud"]])[0]
        prices = [o["price_usd_per_hour"] for o in offers if o["cloud"] == cloud and o["gpu"] == w["gpu"]
                  and o["gpus"] == w["gpus"] and o["price_usd_per_hour"] is not None]
        naive += min(prices) * w.get("nodes", 1) * w["hours"]
    assert out["naive_total_usd"] == pytest.approx(naive, rel=1e-6, abs=0.01)
    assert next(a for a in out["assignments"] if a["workload"] == "c")["nodes"] == 2


def test_plan_infeasible_quota_is_one_line(tmp_path):
    spec = "workloads:\n  - {name: big, gpu: H100, gpus: 8, hours: 1, clouds: [aws]}\n" \
           "quotas:\n  - {cloud: aws, gpu: H100, max_gpus: 4}\n"
    path = tmp_path / "fleet.yaml"
    path.write_text(spec)
    p = run_cli("plan", path, "--catalog", SKYPILOT, "--json")
    assert p.returncode == 1
    assert len([ln for ln in p.stderr.splitlines() if ln.strip()]) == 1
    dup = tmp_path / "dup.yaml"
    dup.write_text("workloads:\n  - {name: x, gpu: T4, gpus: 1, hours: 1}\n  - {name: x, gpu: T4, gpus: 1, hours: 2}\n")
    user_error("plan", dup, "--json")


# ---------------------------------------------------------------- train-plan


def test_train_plan_on_variant_catalog(tmp_path, variant_catalog):
    profile = tmp_path / "job.json"
    profile.write_text(json.dumps({
        "name": "ft", "work": 5.0e8, "memory_gib_per_gpu": 40,
        "throughput": [{"gpu": "H100", "gpus": 8, "units_per_s": 41000},
                       {"gpu": "H100", "gpus": 16, "units_per_s": 78000},
                       {"gpu": "A100-80GB", "gpus": 8, "units_per_s": 17500},
                       {"gpu": "A100-80GB", "gpus": 4, "units_per_s": 9000}],
        "checkpoint_interval_s": 1800, "restore_s": 300}))
    for catalog, deadline_h in ((variant_catalog, None), (SKYPILOT, 12)):
        extra = ["--deadline", f"{deadline_h}h"] if deadline_h else []
        out = ok_json("train-plan", profile, "--catalog", catalog, *extra)
        assert {"cloud", "region", "instance_type", "gpu", "gpus", "nodes", "spot"} <= set(out["choice"])
        assert out["expected_hours"] > 0 and out["expected_cost_usd"] > 0
        front = out["frontier"]
        assert front and all({"gpu", "gpus", "spot", "expected_hours", "expected_cost_usd"} <= set(f) for f in front)
        hours = [f["expected_hours"] for f in front]
        assert hours == sorted(hours)
        costs = [f["expected_cost_usd"] for f in front]
        # Pareto: sorted by time, each later (slower) point must be strictly cheaper.
        assert all(b < a + 1e-9 for a, b in zip(costs, costs[1:]))
        if deadline_h:  # the choice is the cheapest expected cost that meets the deadline
            assert out["expected_hours"] <= deadline_h + 1e-9
            assert out["expected_cost_usd"] == pytest.approx(
                min(f["expected_cost_usd"] for f in front if f["expected_hours"] <= deadline_h), rel=1e-6)
    user_error("train-plan", tmp_path / "nope.yaml", "--json")
    assert "deadline" in user_error("train-plan", profile, "--deadline", "1m", "--json")


# ---------------------------------------------------------------- replay


def service(tmp_path: Path, name: str = "svc", **over) -> Path:
    spec = {"name": name, "gpu": "L4", "gpus_per_replica": 1, "capacity_per_replica": 5.0, "cold_start_s": 60,
            "min_replicas": 0, "max_replicas": 20, "scale_to_zero": True, "max_queue_s": 0}
    spec.update(over)
    path = tmp_path / f"{name}.yaml"
    path.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in spec.items()))
    return path


def assert_replay(out: dict, policy: str) -> dict:
    assert REPLAY_KEYS <= set(out)
    assert out["policy"] == policy
    assert 0.0 <= out["demand_served_fraction"] <= 1.0
    assert out["cost_usd"] >= 0 and out["oracle_cost_usd"] > 0 and out["gpu_hours"] >= 0
    assert out["cost_ratio_to_oracle"] == pytest.approx(out["cost_usd"] / out["oracle_cost_usd"], rel=1e-3)
    if out["demand_served_fraction"] >= 0.999:
        assert out["cost_ratio_to_oracle"] >= 0.999, "the oracle must be a lower bound at full service"
    assert out["peak_replicas"] >= 0 and out["cold_starts"] >= 0
    return out


def diurnal_series(days: int, step_s: int, origin: float, seed: int = 1) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    rows = []
    for i in range(days * 86400 // step_s):
        t = i * step_s
        rate = 20 + 15 * math.sin(2 * math.pi * t / 86400)  # units/s, daily pattern
        rows.append((origin + t, max(0.0, rng.gauss(rate * step_s, math.sqrt(rate * step_s)))))
    return rows


@pytest.fixture(scope="module")
def short_series(tmp_path_factory) -> Path:
    """Two hours, irregular 5–60 s intervals, float seconds from origin 1.7e9, rows shuffled."""
    rng = random.Random(7)
    t, rows = 1.7e9 + 0.25, []
    while t < 1.7e9 + 7200:
        rate = 10 + 8 * math.sin(t / 900)
        step = rng.choice([5, 10, 15, 30, 60])
        rows.append({"timestamp": repr(t), "count": round(rate * step, 3)})
        t += step
    rng.shuffle(rows)
    return write_rows(tmp_path_factory.mktemp("series") / "demand.csv", ["timestamp", "count"], rows)


@pytest.mark.parametrize(("policy", "queue_s"), [("static-peak", 0), ("hpa", 0), ("knative", 20), ("predictive", 0),
                                               ("hybrid", 20)])
def test_replay_each_policy_on_irregular_shuffled_series(tmp_path, short_series, policy, queue_s):
    spec = service(tmp_path, max_queue_s=queue_s)
    out = assert_replay(ok_json("replay", "--trace", short_series, "--service", spec, "--policy", policy,
                                "--catalog", SKYPILOT), policy)
    if policy == "static-peak":
        assert out["demand_served_fraction"] >= 0.999


def test_replay_iso_timestamps_match_numeric(tmp_path, short_series):
    _, rows = read_rows(short_series)
    iso = [{"timestamp": datetime.fromtimestamp(float(r["timestamp"]), timezone.utc).isoformat(), "count": r["count"]}
           for r in rows]
    iso_path = write_rows(tmp_path / "iso.csv", ["timestamp", "count"], iso, crlf=True)
    spec = service(tmp_path)
    a = assert_replay(ok_json("replay", "--trace", short_series, "--service", spec, "--policy", "hpa"), "hpa")
    b = assert_replay(ok_json("replay", "--trace", iso_path, "--service", spec, "--policy", "hpa"), "hpa")
    assert a["oracle_cost_usd"] == pytest.approx(b["oracle_cost_usd"], rel=1e-6)
    assert a["cost_usd"] == pytest.approx(b["cost_usd"], rel=1e-6)
    total = sum(float(r["count"]) for r in rows)
    assert a["trace"]["total_units"] == pytest.approx(total) == b["trace"]["total_units"], "no demand lost"


@pytest.mark.slow
def test_replay_three_days_at_60s_with_daily_pattern(tmp_path):
    rows = [{"timestamp": f"{t:.1f}", "count": f"{c:.2f}"} for t, c in diurnal_series(3, 60, 1.7e9)]
    path = write_rows(tmp_path / "3d.csv", ["timestamp", "count"], rows)
    # No queue here: the queue bound's LP on 259,200 one-second steps takes ~50 s (see the report).
    spec = service(tmp_path, capacity_per_replica=4.0, cold_start_s=300, min_replicas=1, max_replicas=30,
                   scale_to_zero=False, max_queue_s=0)
    out = assert_replay(ok_json("replay", "--trace", path, "--service", spec, "--policy", "predictive",
                                timeout=180), "predictive")
    hours = 3 * 24
    assert out["gpu_hours"] >= hours * 1 - 0.1, "min_replicas 1 without scale-to-zero runs all three days"
    assert out["gpu_hours"] <= hours * 30 + 0.1


@pytest.mark.slow
def test_replay_request_traces_and_spec_variants(tmp_path):
    code = TRACES / "azure-llm-2023" / "AzureLLMInferenceTrace_code.csv"
    priced = service(tmp_path, "priced", gpu="H100", capacity_per_replica=2.0, price_usd_per_hour=3.0,
                     max_queue_s=5)
    out = assert_replay(ok_json("replay", "--trace", code, "--service", priced, "--policy", "knative"), "knative")
    assert out["cost_usd"] == pytest.approx(out["gpu_hours"] * 3.0, rel=1e-3, abs=0.01)
    # Mooncake JSONL, a subset of its lines
    lines = (TRACES / "mooncake-2025" / "conversation_trace.jsonl").read_text().splitlines()[:3000]
    moon = tmp_path / "moon.jsonl"
    moon.write_text("\n".join(lines) + "\n")
    floor = service(tmp_path, "floor", gpu="A100", scale_to_zero=False, min_replicas=2, capacity_per_replica=1.0)
    out = assert_replay(ok_json("replay", "--trace", moon, "--service", floor, "--policy", "hybrid"), "hybrid")
    assert out["peak_replicas"] >= 2
    duration_h = (json.loads(lines[-1])["timestamp"] - json.loads(lines[0])["timestamp"]) / 1000 / 3600
    assert out["gpu_hours"] >= 2 * duration_h * 0.95, "two replicas never scale away"


def test_replay_opaque_gpu_priced_by_the_spec(tmp_path, short_series):
    """A GPU no catalog lists (an opaque `G1`) with 3 GPUs per replica works when the spec carries the price."""
    spec = service(tmp_path, "opaque", gpu="G1", gpus_per_replica=3, price_usd_per_hour=4.5)
    out = assert_replay(ok_json("replay", "--trace", short_series, "--service", spec, "--policy", "hpa"), "hpa")
    assert out["cost_usd"] == pytest.approx(out["gpu_hours"] / 3 * 4.5, rel=1e-3, abs=0.01), "price is per replica"


def test_replay_user_errors(tmp_path, short_series):
    missing = service(tmp_path, "nogpu", gpu="H100", gpus_per_replica=3)
    msg = user_error("replay", "--trace", short_series, "--service", missing, "--policy", "hpa",
                     "--catalog", SKYPILOT, "--json")
    assert "3" in msg and "GPUs" in msg
    user_error("replay", "--trace", short_series, "--service", service(tmp_path), "--policy", "nope", "--json")
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,count\n0,1\nyesterday,2\n")
    user_error("replay", "--trace", bad, "--service", service(tmp_path), "--policy", "hpa", "--json")


# ---------------------------------------------------------------- replay-jobs


@pytest.fixture(scope="module")
def pod_subset(tmp_path_factory) -> Path:
    header, rows = read_rows(TRACES / "alibaba-gpu-2023" / "openb_pod_list_default.csv")
    keep = rows[::10]  # every tenth task
    return write_rows(tmp_path_factory.mktemp("jobs") / "pods.csv", list(reversed(header)), keep)


def assert_jobs(out: dict, policy: str, n_rows: int) -> dict:
    assert JOBS_KEYS <= set(out)
    assert out["policy"] == policy
    assert 0.0 <= out["gpu_utilisation"] <= 1.0
    assert out["jobs"] >= 0 and out["rejected"] >= 0
    assert out["jobs"] + out["rejected"] <= n_rows and out["jobs"] > 0
    assert out["avg_jct_s"] >= 0 and out["p95_jct_s"] >= 0 and out["avg_queue_s"] >= 0
    assert out["gpu_hours"] >= 0 and out["cost_usd"] >= 0
    return out


@pytest.mark.parametrize("policy", ["fifo", "sjf", "las", "cost-aware"])
def test_replay_jobs_each_policy_with_gpu_node_list(tmp_path, pod_subset, policy):
    header, rows = read_rows(TRACES / "alibaba-gpu-2023" / "openb_node_list_gpu_node.csv")
    nodes = write_rows(tmp_path / "nodes.csv", header, rows[::4])
    assert_jobs(ok_json("replay-jobs", "--trace", pod_subset, "--policy", policy, "--nodes", nodes), policy,
                len(read_rows(pod_subset)[1]))


def test_replay_jobs_node_info_df_and_capacity(tmp_path, pod_subset):
    n = len(read_rows(pod_subset)[1])
    header, rows = read_rows(TRACES / "alibaba-spot-gpu-2026" / "node_info_df.csv")
    nodes = write_rows(tmp_path / "node_info_df.csv", header, rows[:40])
    assert_jobs(ok_json("replay-jobs", "--trace", pod_subset, "--policy", "sjf", "--nodes", nodes), "sjf", n)
    tiny = assert_jobs(ok_json("replay-jobs", "--trace", pod_subset, "--policy", "fifo", "--capacity", 4), "fifo", n)
    big = [r for r in read_rows(pod_subset)[1] if float(r["num_gpu"] or 0) > 4 and r["scheduled_time"].strip()]
    assert tiny["rejected"] >= len(big) > 0, "tasks wider than the cluster are counted as rejected"
    # Accounting: every row is replayed, rejected, or skipped with a reason; none vanishes.
    trace = tiny["trace"]
    assert tiny["jobs"] + tiny["rejected"] == trace["jobs"]
    not_replayed = sum(v for k, v in trace["skipped"].items() if k != "clipped_at_window_start")  # clipped ones run
    assert trace["jobs"] + not_replayed + trace["malformed_rows"] == n
    user_error("replay-jobs", "--trace", pod_subset, "--policy", "nope", "--json")
    user_error("replay-jobs", "--trace", pod_subset, "--capacity", 0, "--json")


def test_replay_jobs_own_format_by_hand(tmp_path):
    """4 GPUs; j1 holds all 4 for 1000 s, j2 can never fit, j3/j4 wait for j1 (FIFO): numbers worked by hand."""
    rows = [{"id": "j3", "submit_s": 500, "duration_s": 100, "gpus": 2},
            {"id": "j1", "submit_s": 0, "duration_s": 1000, "gpus": 4},
            {"id": "j2", "submit_s": 10, "duration_s": 50, "gpus": 16},
            {"id": "j4", "submit_s": 20, "duration_s": 300, "gpus": 1}]
    path = write_rows(tmp_path / "jobs.csv", ["id", "submit_s", "duration_s", "gpus"], rows)
    out = assert_jobs(ok_json("replay-jobs", "--trace", path, "--capacity", 4, "--policy", "fifo"), "fifo", 4)
    assert (out["jobs"], out["rejected"]) == (3, 1)
    assert out["avg_jct_s"] == pytest.approx((1000 + 600 + 1280) / 3, abs=0.01)
    assert out["avg_queue_s"] == pytest.approx((0 + 500 + 980) / 3, abs=0.01)
    assert out["gpu_utilisation"] == pytest.approx((4000 + 200 + 300) / (4 * 1300), abs=1e-4)


# ---------------------------------------------------------------- waste


def assert_waste(out: dict, price: float | None = None) -> list[dict]:
    rows = out["workloads"]
    assert rows
    for r in rows:
        assert WASTE_ROW_KEYS <= set(r)
        assert 0 <= r["used_gpu_hours"] <= r["paid_gpu_hours"] + 1e-9
        assert r["efficiency"] == pytest.approx(r["used_gpu_hours"] / r["paid_gpu_hours"], abs=1e-3)
        if price is not None:
            assert r["idle_usd"] == pytest.approx((r["paid_gpu_hours"] - r["used_gpu_hours"]) * price,
                                                  rel=1e-3, abs=0.01)
        assert r["monthly_saving_usd"] >= 0
    assert out["total_idle_usd"] == pytest.approx(sum(r["idle_usd"] for r in rows), abs=0.01)
    if price is not None:
        assert out["total_paid_usd"] == pytest.approx(sum(r["paid_gpu_hours"] for r in rows) * price, abs=0.01)
    return rows


def synthetic_util(iso: bool) -> tuple[list[dict], dict[str, float]]:
    """Two workloads sampled every 30 s for an hour; returns rows (shuffled) and expected used GPU-hours."""
    start = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    rows, used = [], {"busy": 0.0, "idle": 0.0}
    for i in range(120):
        at = start + timedelta(seconds=30 * i)
        for name, pct in (("busy", 80.0), ("idle", 2.0 if i % 2 else 0.0)):
            ts = at.isoformat().replace("+00:00", "Z") if iso else f"{at.timestamp():.0f}"
            rows.append({"timestamp": ts, "workload": name, "gpu_util_pct": pct})
            used[name] += pct / 100 * 30 / 3600
    random.Random(3).shuffle(rows)
    return rows, used


@pytest.mark.parametrize("iso", [True, False])
def test_waste_generic_format(tmp_path, iso):
    rows, used = synthetic_util(iso)
    path = write_rows(tmp_path / "util.csv", ["gpu_util_pct", "workload", "timestamp"], rows)
    out = ok_json("waste", "--utilisation", path, "--price-usd-per-gpu-hour", 2.5, "--gpus-per-workload", 8,
                  "--idle-below", 10)
    got = {r["workload"]: r for r in assert_waste(out, 2.5)}
    for name in ("busy", "idle"):
        assert got[name]["paid_gpu_hours"] == pytest.approx(8 * 1.0, rel=1e-6), "120 samples × 30 s × 8 GPUs"
        assert got[name]["used_gpu_hours"] == pytest.approx(8 * used[name], rel=1e-6)
    assert got["idle"]["recommendation"] and got["idle"]["monthly_saving_usd"] > 0


def test_waste_genai_with_memory_and_catalog_price(tmp_path):
    keep = None
    paths = {}
    for kind in ("duty_cycle", "memory_used_bytes"):
        header, rows = read_rows(TRACES / "alibaba-genai-2026-usage" / f"pod_gpu_{kind}_anon.csv")
        if keep is None:
            keep = sorted({r["container_ip"] for r in rows})[:6]
        paths[kind] = write_rows(tmp_path / f"{kind}.csv", header, [r for r in rows if r["container_ip"] in keep])
    out = ok_json("waste", "--utilisation", paths["duty_cycle"], "--memory", paths["memory_used_bytes"],
                  "--gpu", "A100", "--catalog", SKYPILOT)
    rows = assert_waste(out)
    assert {r["workload"] for r in rows} == set(keep)
    price = out["total_paid_usd"] / sum(r["paid_gpu_hours"] for r in rows)
    for r in rows:
        assert r["idle_usd"] == pytest.approx((r["paid_gpu_hours"] - r["used_gpu_hours"]) * price, rel=1e-3, abs=0.01)
    user_error("waste", "--utilisation", paths["duty_cycle"], "--gpu", "NOT-A-GPU", "--json")


# ---------------------------------------------------------------- cost


def test_cost_on_an_empty_store_says_how_to_fill_it_and_the_sample_works(tmp_path):
    line = user_error("cost", "--window", "30d", "--by", "project", "--json", env_home=tmp_path)
    assert "no costplane store" in line and "costplane ingest" in line and "To fix" in line
    assert not (tmp_path / "costplane.db").exists()  # a command that only reads creates nothing
    out = ok_json("cost", "--window", "30d", "--by", "project", "--sample", env_home=tmp_path)
    assert {"start", "end"} <= set(out["window"])
    for r in out["rows"]:
        assert {"key", "cost_usd", "gpu_hours", "efficiency"} <= set(r)
    total = sum(r["cost_usd"] for r in out["rows"]) + out["idle_usd"]
    assert abs(total - out["total_usd"]) <= 0.005 + 1e-9, "rows + idle == total to the cent"
    assert out["total_usd"] > 0


@pytest.mark.slow
def test_cost_on_ingested_usage_totals_what_the_gpus_cost(tmp_path):
    """Three workloads, one GPU each, 60 s samples: wa and wb 2 h, wc 1 h; at $2/GPU-h the window costs $10."""
    start = datetime(2026, 3, 1, tzinfo=timezone.utc)
    rows = []
    for i in range(120):
        ts = (start + timedelta(seconds=60 * i)).isoformat().replace("+00:00", "Z")
        rows.append({"timestamp": ts, "workload": "wa", "gpu_util_pct": 80, "team": "red", "project": "alpha"})
        rows.append({"timestamp": ts, "workload": "wb", "gpu_util_pct": 10, "team": "red", "project": "beta"})
        if i < 60:
            rows.append({"timestamp": ts, "workload": "wc", "gpu_util_pct": 50, "team": "blue", "project": "gamma"})
    usage = write_rows(tmp_path / "usage.csv", ["timestamp", "workload", "gpu_util_pct", "team", "project"], rows)
    db = f"sqlite:///{tmp_path / 'c.db'}"
    assert run_cli("ingest", "usage", usage, "--db", db, env_home=tmp_path).returncode == 0
    expected = {"team": {"red": 8.0, "blue": 2.0}, "project": {"alpha": 4.0, "beta": 4.0, "gamma": 2.0},
                "workload": {"wa": 4.0, "wb": 4.0, "wc": 2.0}}
    for by, window in (("team", "1d"), ("project", "30d"), ("workload", "7d")):
        out = ok_json("cost", "--db", db, "--by", by, "--window", window, "--price-usd-per-gpu-hour", 2,
                      env_home=tmp_path)
        assert {r["key"]: r["cost_usd"] for r in out["rows"]} == pytest.approx(expected[by], abs=0.01)
        assert out["total_usd"] == pytest.approx(10.0, abs=0.01)
        assert abs(sum(r["cost_usd"] for r in out["rows"]) + out["idle_usd"] - out["total_usd"]) <= 0.005 + 1e-9
        if by == "workload":
            eff = {r["key"]: r["efficiency"] for r in out["rows"]}
            assert eff == pytest.approx({"wa": 0.8, "wb": 0.1, "wc": 0.5}, abs=1e-3)


def test_cost_user_errors(tmp_path):
    user_error("cost", "--window", "7 parsecs", "--by", "planet", "--json", env_home=tmp_path)


# ---------------------------------------------------------------- forecast backtest


@pytest.fixture(scope="module")
def long_series(tmp_path_factory) -> dict[str, Path]:
    """Two long-format files, shuffled: `iso` holds an hourly series with a daily cycle and a daily series
    (dates only) with a weekly cycle; `seconds` a 15-minute series in float seconds from 1.7e9 with a trend
    and a per-minute series in integer seconds from 0."""
    rng = random.Random(11)
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    iso, sec = [], []
    for i in range(24 * 14):
        y = 100 + 30 * math.sin(2 * math.pi * i / 24) + rng.gauss(0, 3)
        iso.append({"unique_id": "hourly", "ds": (start + timedelta(hours=i)).isoformat(), "y": round(y, 3)})
    for i in range(7 * 20):
        y = 10 + (5 if i % 7 in (5, 6) else 0) + rng.gauss(0, 0.5)
        iso.append({"unique_id": "daily", "ds": (start + timedelta(days=i)).date().isoformat(), "y": round(y, 3)})
    for i in range(96 * 4):
        y = 50 + 0.05 * i + 10 * math.sin(2 * math.pi * i / 96) + rng.gauss(0, 1)
        sec.append({"unique_id": "quarter", "ds": 1.7e9 + 900 * i, "y": round(y, 3)})
    for i in range(600):
        sec.append({"unique_id": "minute", "ds": 60 * i, "y": round(5 + 2 * math.sin(i / 10) + rng.gauss(0, .2), 3)})
    rng.shuffle(iso)
    rng.shuffle(sec)
    root = tmp_path_factory.mktemp("fc")
    return {"iso": write_rows(root / "iso.csv", ["unique_id", "ds", "y"], iso),
            "seconds": write_rows(root / "seconds.csv", ["y", "ds", "unique_id"], sec, crlf=True)}


@pytest.mark.parametrize(("model", "season", "kind"), [("seasonal-naive", None, "iso"), ("ets", 24, "iso"),
                                                       ("linear", None, "seconds"), ("auto", None, "seconds")])
def test_forecast_backtest_models(tmp_path, long_series, model, season, kind):
    extra = ["--season", season] if season else []
    out_csv = tmp_path / "fc.csv"
    out = ok_json("forecast", "backtest", "--series", long_series[kind], "--horizon", 6, "--windows", 3,
                  "--model", model, "--out", out_csv, *extra, timeout=180)
    assert FORECAST_KEYS <= set(out)
    assert out["series"] == 2 and out["horizon"] == 6 and out["windows"] == 3
    assert math.isfinite(out["mase"]) and math.isfinite(out["smape"]) and out["mase"] >= 0
    assert 0 <= out["smape"] <= 200
    header, rows = read_rows(out_csv)
    assert header[:5] == ["unique_id", "ds", "cutoff", "y", "mean"]
    assert len(rows) == 2 * 6 * 3
    assert {r["unique_id"] for r in rows} == ({"hourly", "daily"} if kind == "iso" else {"quarter", "minute"})
    assert all(math.isfinite(float(r["mean"])) for r in rows)
    # The forecast rows are the last windows × horizon points of each series, after their cutoffs.
    _, given = read_rows(long_series[kind])
    truth = {(r["unique_id"], r["ds"]): float(r["y"]) for r in given}
    for r in rows:
        assert r["cutoff"] < r["ds"] if kind == "iso" else float(r["cutoff"]) < float(r["ds"])
        if (r["unique_id"], r["ds"]) in truth:
            assert float(r["y"]) == pytest.approx(truth[(r["unique_id"], r["ds"])])


def test_forecast_user_errors(tmp_path, long_series):
    iso = long_series["iso"]
    user_error("forecast", "backtest", "--series", iso, "--horizon", 6, "--windows", 3, "--model", "nope", "--json")
    user_error("forecast", "backtest", "--series", iso, "--horizon", 500, "--windows", 3, "--json")
    bad = tmp_path / "bad.csv"
    bad.write_text("unique_id,ds,y\na,1,2\na,2,x\n")
    user_error("forecast", "backtest", "--series", bad, "--horizon", 1, "--windows", 1, "--json")


def test_unknown_option_is_one_line():
    user_error("place", "--gpu", "H100", "--hours", "1", "--no-such-flag")
