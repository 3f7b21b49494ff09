"""Trace readers (Alibaba pod/node lists, the project job CSV), bad input, the CLI and the real trace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costplane.catalog import load_catalog
from costplane.cli import app
from costplane.core.errors import InputError
from costplane.replay.jobs_traces import (
    p95_gpu_demand,
    read_job_trace,
    read_node_list,
    resample_jobs,
    sized_cluster,
)
from costplane.schedule import PRIORITY_HIGH, PRIORITY_LOW, Job

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
POD_LIST = SHARED / "traces" / "alibaba-gpu-2023" / "openb_pod_list_default.csv"
SKYPILOT = SHARED / "catalog" / "skypilot-v8"
SAMPLE = Path(__file__).resolve().parents[1] / "src" / "costplane" / "examples" / "alibaba_gpu_jobs_sample.csv"
CONTRACT_KEYS = {"policy", "jobs", "avg_jct_s", "p95_jct_s", "avg_queue_s", "gpu_utilisation", "gpu_hours",
                 "cost_usd", "preemptions", "deadline_misses", "rejected"}

# Hand-written rows in the Alibaba openb_pod_list layout (not copied from the trace).
POD_HEADER = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n"
POD_ROWS = [
    "p0,8000,1000,1,1000,,LS,Running,-20000,5000,-20000",  # line 2: in flight long before the window (W=1000)
    "p1,8000,1000,1,470,,BE,Succeeded,1100,1700,1200",     # line 3: 0.47 GPU, 500 s after scheduling
    "p2,8000,1000,8,1000,V100M16|V100M32,LS,Failed,1500,2500,1500",  # line 4: 8 GPUs, allowed types
    "p3,8000,1000,0,0,,BE,Succeeded,1000,1000,1000",       # line 5: CPU only (first departure: W=1000)
    "p4,8000,1000,1,1000,,BE,Pending,1600,1900,",          # line 6: never scheduled
    "p5,8000,1000,x,1000,,LS,Running,1700,3000,1700",      # line 7: malformed
    "p6,8000,1000,1,1000,,LS,Running,1800,1000,1800",      # line 8: deletion before start
    "p7,8000,1000,1,1000,,Burstable,Succeeded,1900,2900,1950",  # line 9
]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_alibaba_pod_rules(tmp_path):
    js = read_job_trace(write(tmp_path, "pods.csv", POD_HEADER + "\n".join(POD_ROWS) + "\n"))
    by_id = {j.id: j for j in js.jobs}
    assert sorted(by_id) == ["p0", "p1", "p2", "p7"]
    assert js.window_start_s == 1000  # first departure
    assert (by_id["p0"].submit_s, by_id["p0"].duration_s) == (1000, 4000)  # in flight: remaining time
    assert by_id["p1"].gpus == pytest.approx(0.47) and by_id["p1"].duration_s == 500
    assert by_id["p1"].priority == PRIORITY_LOW
    assert by_id["p2"].gpus == 8 and by_id["p2"].allowed_gpus == ("V100", "V100-32GB")
    assert by_id["p2"].priority == PRIORITY_HIGH
    assert by_id["p7"].duration_s == 950  # from scheduled_time, not creation
    assert js.skipped == {"cpu_only": 1, "never_scheduled": 1, "clipped_at_window_start": 1}
    assert [n for n, _ in js.malformed] == [7, 8]
    assert "negative duration" in js.malformed[1][1]


OWN = """id,submit_s,duration_s,gpus,gpu,priority,team,deadline_s,checkpointable,estimate_s
a,0,100,1,V100,high,ml,500,true,120
b,2026-01-01T00:00:10Z,50,0.5,,low,ml,,false,
c,20,-5,1,,,ml,,,
d,30,40,1.5,,,ml,,,
e,40,40,2,,urgent,ml,,,
f,oops,40,2,,,ml,,,
g,50,60,2,T4|L4,3,web,,yes,
"""


def test_trace_that_starts_with_its_first_arrival_is_not_clipped(tmp_path):
    rows = ["a,1,1,1,1000,,LS,Succeeded,0,800,0", "b,1,1,1,1000,,LS,Succeeded,10,900,10",
            "c,1,1,1,1000,,LS,Succeeded,20,1000,20"]
    js = read_job_trace(write(tmp_path, "pods.csv", POD_HEADER + "\n".join(rows) + "\n"))
    assert js.window_start_s == 0 and js.skipped["clipped_at_window_start"] == 0
    assert [(j.submit_s, j.duration_s) for j in js.jobs] == [(0, 800), (10, 890), (20, 980)]


def test_own_format_and_malformed_rows(tmp_path):
    js = read_job_trace(write(tmp_path, "jobs.csv", OWN))
    assert [j.id for j in js.jobs] == ["a", "b", "g"]
    a, b, g = js.jobs
    assert (a.priority, a.team, a.deadline_s, a.checkpointable, a.estimate_s) == (PRIORITY_HIGH, "ml", 500, True, 120)
    assert b.submit_s == pytest.approx(1767225610.0) and b.gpus == 0.5
    assert g.allowed_gpus == ("T4", "L4") and g.priority == 3 and g.checkpointable
    lines = [n for n, _ in js.malformed]
    assert lines == [4, 5, 6, 7]
    assert "negative duration" in js.malformed[0][1]


def test_unknown_header_is_one_line_error(tmp_path):
    with pytest.raises(InputError, match="neither an Alibaba pod list nor a costplane job CSV"):
        read_job_trace(write(tmp_path, "x.csv", "foo,bar\n1,2\n"))


def test_node_lists(tmp_path):
    openb = write(tmp_path, "n.csv", "sn,cpu_milli,memory_mib,gpu,model\nn0,1,1,0,\nn1,1,1,8,V100M32\nn2,1,1,2,G2\n")
    assert read_node_list(openb) == [("V100-32GB", 8), ("G2", 2)]
    spot = write(tmp_path, "s.csv", "gpu_model,gpu_capacity_num,cpu_num,node_name\nA100-SXM4-80GB,8,128,0\nA10,1,64,1\n")
    assert read_node_list(spot) == [("A100-80GB", 8), ("A10", 1)]


def test_p95_demand_and_sizing():
    # one GPU busy all 100 s, a second one only for 2 s: p95 of time-weighted demand is 1
    jobs = (Job("a", 0, 100, 1), Job("b", 50, 2, 1))
    assert p95_gpu_demand(jobs) == 1
    cluster = sized_cluster(jobs, load_catalog(), {})
    assert cluster.gpus == 1 and cluster.nodes[0].gpu == "V100"
    assert len(resample_jobs(jobs, 10, seed=1)) == 10


runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_cli_json_keys_on_bundled_sample():
    result = invoke("replay-jobs", "--trace", str(SAMPLE), "--policy", "sjf", "--capacity", "8", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert CONTRACT_KEYS <= set(out)
    assert out["policy"] == "sjf" and out["jobs"] + out["rejected"] == 400
    assert out["fixed_gpus"] == 8


def test_cli_compare_writes_plot(tmp_path):
    plot = tmp_path / "cmp.png"
    result = invoke("replay-jobs", "--trace", str(SAMPLE), "--compare", "--plot", str(plot), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [r["policy"] for r in out["policies"]] == ["fifo", "sjf", "las", "cost-aware"]
    assert plot.exists() and plot.stat().st_size > 10_000


def test_cli_bad_input_is_one_line_and_nonzero(tmp_path):
    from costplane.cli import main

    assert main(["replay-jobs", "--trace", str(tmp_path / "missing.csv"), "--json"]) != 0
    assert main(["replay-jobs", "--trace", str(SAMPLE), "--policy", "nope", "--json"]) != 0
    assert main(["replay-jobs", "--trace", str(SAMPLE), "--capacity", "4", "--nodes", str(SAMPLE)]) != 0
    quotas = write(tmp_path, "q.yaml", "teams: {ml: {guaranteed_gpus: 4, max_gpus: 8}}\n")
    # every sample job is team "default": with quotas given, all are rejected as unknown team, never dropped
    result = invoke("replay-jobs", "--trace", str(SAMPLE), "--quotas", str(quotas), "--capacity", "8", "--json")
    out = json.loads(result.stdout)
    assert out["rejected"] == 400 and out["rejected_by_reason"] == {"unknown team": 400}


@pytest.mark.slow
@pytest.mark.skipif(not POD_LIST.exists(), reason="shared Alibaba trace not present")
def test_real_alibaba_trace_cost_aware_cheaper_and_not_slower():
    runs = {}
    for name in ("fifo", "las", "cost-aware"):
        result = invoke("replay-jobs", "--trace", str(POD_LIST), "--policy", name, "--catalog", str(SKYPILOT), "--json")
        assert result.exit_code == 0, result.output
        runs[name] = json.loads(result.stdout)
        assert CONTRACT_KEYS <= set(runs[name])
    fifo, las, ca = runs["fifo"], runs["las"], runs["cost-aware"]
    assert fifo["jobs"] == 6203 and fifo["rejected"] == 0
    assert fifo["trace"]["skipped"] == {"cpu_only": 1088, "never_scheduled": 861, "clipped_at_window_start": 31}
    assert fifo["fixed_gpus"] == 49  # p95 of concurrent GPU demand, rounded up
    assert ca["cost_usd"] < 0.92 * fifo["cost_usd"]
    assert ca["avg_jct_s"] <= fifo["avg_jct_s"]
    assert 0 < fifo["gpu_utilisation"] <= 1 and las["cost_usd"] == pytest.approx(fifo["cost_usd"], rel=0.05)


def test_cli_more_bad_input(tmp_path):
    from costplane.cli import main

    only_bad = write(tmp_path, "bad.csv", "id,submit_s,duration_s,gpus\na,0,-1,1\nb,x,1,1\n")
    assert main(["replay-jobs", "--trace", str(only_bad), "--json"]) != 0
    broken = write(tmp_path, "q.yaml", "teams: {ml: [\n")
    assert main(["replay-jobs", "--trace", str(SAMPLE), "--quotas", str(broken), "--json"]) != 0
    empty_nodes = write(tmp_path, "n.csv", "")
    assert main(["replay-jobs", "--trace", str(SAMPLE), "--nodes", str(empty_nodes), "--json"]) != 0


def test_cli_node_list_prices_opaque_gpus_and_keep_base(tmp_path):
    nodes = write(tmp_path, "nodes.csv", "sn,cpu_milli,memory_mib,gpu,model\nn0,1,1,8,G2\nn1,1,1,4,V100M16\n")
    base = json.loads(invoke("replay-jobs", "--trace", str(SAMPLE), "--nodes", str(nodes), "--json").stdout)
    assert base["fixed_gpus"] == 12 and base["jobs"] == 400
    # G2 priced as T4 by default; as V100 it must cost less here (V100 is cheaper per GPU in the bundle)
    as_v100 = json.loads(invoke("replay-jobs", "--trace", str(SAMPLE), "--nodes", str(nodes),
                                "--gpu-price-as", "G2=V100", "--json").stdout)
    assert as_v100["cost_usd"] != base["cost_usd"]
    kept = json.loads(invoke("replay-jobs", "--trace", str(SAMPLE), "--nodes", str(nodes), "--policy", "cost-aware",
                             "--keep-base", "--json").stdout)
    assert kept["fixed_gpus"] == 12 and kept["cost_usd"] >= base["cost_usd"] * 0.99
