"""`costplane replay` as users and the contract check call it: keys, units, errors, --compare and its plot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from costplane.autoscale import POLICIES, ServiceSpec
from costplane.cli import main
from costplane.replay.inference import replay_inference
from costplane.traces import DemandSeries

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared"
CONV = SHARED / "data" / "traces" / "azure-llm-2023" / "AzureLLMInferenceTrace_conv.csv"
CATALOG = SHARED / "data" / "catalog" / "skypilot-v8"
CHAT = SHARED / "examples" / "chat-service.yaml"
CONTRACT_KEYS = {"policy", "cost_usd", "oracle_cost_usd", "cost_ratio_to_oracle", "demand_served_fraction",
                 "gpu_hours", "cold_starts", "peak_replicas"}


def run_json(args, capsys):
    capsys.readouterr()
    code = main(args)
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


@pytest.mark.skipif(not CONV.exists(), reason="shared data not present")
@pytest.mark.parametrize("policy", list(POLICIES))
def test_contract_shape_on_the_azure_conv_trace(policy, capsys):
    out = run_json(["replay", "--trace", str(CONV), "--service", str(CHAT), "--policy", policy,
                    "--catalog", str(CATALOG), "--json"], capsys)
    assert CONTRACT_KEYS <= set(out)
    assert out["policy"] == policy and 0 <= out["demand_served_fraction"] <= 1
    assert out["cost_usd"] == pytest.approx(out["gpu_hours"] * out["price_usd_per_hour"], rel=1e-3)
    assert out["cost_ratio_to_oracle"] == pytest.approx(out["cost_usd"] / out["oracle_cost_usd"], rel=1e-3)
    if out["demand_served_fraction"] >= 0.999:
        assert out["cost_ratio_to_oracle"] >= 0.999  # what contract-check asserts


def test_defaults_run_the_bundled_sample_and_price_from_the_bundled_catalog(capsys):
    out = run_json(["replay", "--policy", "predictive", "--json"], capsys)
    assert out["trace"]["total_units"] == 19366 and out["service"]["name"] == "chat"
    assert out["price_usd_per_hour"] > 0 and "on-demand" in out["price_source"]
    # the root MILP's bound and the LP's rounded-up fleet bracket the optimum within 5 % on this hour; the
    # MILP is limited in nodes, not seconds, so these figures are the same on every machine and run
    assert out["oracle_method"] == "milp-dual-bound"
    assert out["oracle_cost_usd"] == pytest.approx(10870 / 3600 * out["price_usd_per_hour"], abs=1e-4)
    assert out["oracle_gap"] == pytest.approx(1 - 10870 / 11430, abs=1e-12)


def test_price_override_and_tokens_unit(tmp_path, capsys):
    spec = tmp_path / "s.yaml"
    spec.write_text("name: t\ngpu: H100\ngpus_per_replica: 2\ncapacity_per_replica: 2000\ncold_start_s: 30\n"
                    "min_replicas: 1\nmax_replicas: 8\nscale_to_zero: false\nprice_usd_per_hour: 5.0\n")
    trace = tmp_path / "r.csv"
    trace.write_text("timestamp,input_tokens,output_tokens\n" +
                     "".join(f"{t * 0.5},900,100\n" for t in range(400)))
    out = run_json(["replay", "--trace", str(trace), "--service", str(spec), "--unit", "tokens",
                    "--policy", "hpa", "--json"], capsys)
    assert out["price_usd_per_hour"] == 5.0 and out["trace"]["unit"] == "tokens"
    assert out["gpu_hours"] == pytest.approx(2 * out["replica_hours"])
    assert out["demand_served_fraction"] == 1.0 and out["peak_replicas"] >= 1


def test_compare_prints_json_rows_and_writes_a_png(tmp_path, capsys):
    png = tmp_path / "cmp.png"
    out = run_json(["replay", "--compare", "--plot", str(png), "--json"], capsys)
    assert [r["policy"] for r in out["policies"]] == list(POLICIES)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert all(r["oracle_cost_usd"] == out["oracle_cost_usd"] for r in out["policies"])


def test_undersized_spec_warns_and_still_reports(tmp_path, capsys):
    spec = tmp_path / "s.yaml"
    spec.write_text("name: t\ngpu: H100\ngpus_per_replica: 1\ncapacity_per_replica: 1\ncold_start_s: 10\n"
                    "min_replicas: 0\nmax_replicas: 2\nscale_to_zero: true\nprice_usd_per_hour: 1\n")
    out = run_json(["replay", "--service", str(spec), "--policy", "static-peak", "--json"], capsys)
    assert out["unserved_units"] > 0 and any("exceeds max_replicas" in w for w in out["warnings"])


@pytest.mark.parametrize(("args", "needle"), [
    (["--policy", "nope"], "unknown policy"),
    (["--trace", "/nonexistent.csv"], "does not exist"),
    (["--service", "/nonexistent.yaml"], "does not exist"),
])
def test_user_errors_exit_non_zero_with_one_line(args, needle):
    p = subprocess.run([str(Path(sys.executable).parent / "costplane"), "replay", *args, "--json"],
                       capture_output=True, text=True, cwd=ROOT)
    assert p.returncode != 0 and p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "To fix" in lines[0]


def test_replay_is_deterministic_and_accounts_every_unit():
    rng = np.random.default_rng(7)
    series = DemandSeries(0.0, 1.0, rng.poisson(4 + 3 * np.sin(np.arange(1800) / 200)).astype(float))
    spec = ServiceSpec("s", "H100", 1, 2.0, 60.0, 0, 16, True, 5.0)
    for name in POLICIES:
        a = replay_inference(series, spec, name, 2.0)  # the default oracle (root MILP) is work-limited: bit-equal
        b = replay_inference(series, spec, name, 2.0)
        assert a.to_dict() | {"replay_seconds": 0} == b.to_dict() | {"replay_seconds": 0}
        assert a.served_units + a.unserved_units == pytest.approx(series.total)
        assert (a.ready_replicas <= a.up_replicas).all() and a.up_replicas.max() <= spec.max_replicas


def test_floor_without_scale_to_zero_zero_cold_start_and_queue():
    rng = np.random.default_rng(11)
    series = DemandSeries(0.0, 1.0, rng.poisson(3 * (np.arange(900) % 300 < 100)).astype(float))
    spec = ServiceSpec("s", "L4", 1, 2.0, 0.0, 2, 12, False, 4.0)
    for name in POLICIES:
        r = replay_inference(series, spec, name, 1.0)
        assert r.up_replicas.min() >= 2  # min_replicas holds at every step
        if r.unserved_units == 0:
            assert r.cost_usd >= r.oracle_cost_usd - 1e-9


def test_long_series_default_to_a_coarser_step_with_a_warning(tmp_path):
    from costplane.traces import load_trace

    p = tmp_path / "long.csv"
    p.write_text("timestamp,count\n" + "".join(f"{d * 86_400},{100 + d}\n" for d in range(20)))
    s = load_trace(p)
    assert s.step_s == 2.0 and s.total == pytest.approx(sum(100 + d for d in range(20)))
    assert any("2 s steps" in w for w in s.warnings)
    assert load_trace(p, step_s=3600).warnings == ()


def test_json_stays_parseable_when_the_solver_prints_to_stdout(tmp_path):
    # On this trace scipy's HiGHS printed a debug line with printf during the oracle's MILP, which preceded
    # the JSON document (found by a randomised search, seed 53); highspy runs silent (core.highs).
    rng = np.random.default_rng(53)
    n = int(rng.integers(30, 200))
    rng.integers(0, 40), rng.integers(0, 12), rng.choice([1.0, 2.0, 5.0, 7.0, 15.0])  # same stream as found
    rng.integers(0, 2), rng.integers(0, 3), rng.choice([1.0, 3.0])
    level = rng.uniform(0, 6) * (1 + np.sin(np.arange(n) / rng.uniform(3, 30)))
    counts = rng.poisson(level * (rng.uniform(size=n) < rng.uniform(0.3, 1)))
    trace = tmp_path / "t.csv"
    trace.write_text("timestamp,count\n" + "".join(f"{i},{c}\n" for i, c in enumerate(counts)))
    spec = tmp_path / "s.yaml"
    spec.write_text("name: s\ngpu: H100\ngpus_per_replica: 1\ncapacity_per_replica: 3\ncold_start_s: 0\n"
                    "min_replicas: 0\nmax_replicas: 8\nscale_to_zero: true\nmax_queue_s: 8\nprice_usd_per_hour: 1\n")
    p = subprocess.run([str(Path(sys.executable).parent / "costplane"), "replay", "--trace", str(trace),
                        "--service", str(spec), "--policy", "predictive", "--decision-interval", "7",
                        "--oracle-milp-nodes", "1000", "--json"], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["oracle_method"] == "milp-dual-bound"
    assert p.stdout.lstrip().startswith("{")
