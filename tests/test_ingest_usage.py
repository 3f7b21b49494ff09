"""Usage CSV ingest: the three layouts, clock skew, duplicates, idempotency, and the real Alibaba GenAI trace."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from costplane.core.errors import InputError
from costplane.ingest import ingest_usage, parse_usage
from costplane.store import Store, UsageSample

NOW_S = 1_795_000_000.0
REPO = Path(__file__).resolve().parents[1]
GENAI = REPO / ".." / "shared" / "data" / "traces" / "alibaba-genai-2026-usage"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_wide_layout_waste_contract(tmp_path, db_url):
    f = _write(tmp_path, "util.csv", "timestamp,workload,gpu_util_pct\n"
               "2026-10-01T00:00:00Z,train-a,80\n2026-10-01T00:01:00Z,train-a,60\n1790812800,train-b,5\n")
    store = Store.open(db_url)
    report = ingest_usage(f, store, NOW_S)
    assert (report.read, report.ingested, report.duplicates, report.rejected) == (3, 3, 0, 0)
    assert report.details["layout"] == "wide"
    with store.session() as s:
        rows = s.execute(select(UsageSample.workload, UsageSample.ts_s, UsageSample.value)
                         .order_by(UsageSample.workload, UsageSample.ts_s)).all()
    assert [tuple(r) for r in rows] == [("train-a", 1790812800.0, 80.0), ("train-a", 1790812860.0, 60.0),
                                        ("train-b", 1790812800.0, 5.0)]
    again = ingest_usage(f, store, NOW_S)
    assert (again.ingested, again.duplicates, again.details["already_stored"]) == (0, 3, 3)
    assert store.count(UsageSample) == 3


def test_long_layout_with_team_project(tmp_path):
    f = _write(tmp_path, "long.csv", "timestamp,workload,metric,value,team,project\n"
               "100,chat,requests_per_s,12.5,inference,chat\n100,chat,gpu_memory_used_bytes,1e9,inference,\n")
    rows, report = parse_usage(f, NOW_S)
    assert report.details["layout"] == "long"
    assert [(r["metric"], r["value"], r["team"], r["project"]) for r in rows] == [
        ("requests_per_s", 12.5, "inference", "chat"), ("gpu_memory_used_bytes", 1e9, "inference", None)]


def test_alibaba_layout_metric_from_file_name(tmp_path):
    util = _write(tmp_path, "pod_gpu_duty_cycle_x.csv", "value,timestamp_anon,container_ip\n12.5,60.0,abc\n")
    mem = _write(tmp_path, "pod_gpu_memory_used_bytes_x.csv", "timestamp_anon,value,container_ip\n60.0,2e10,abc\n")
    (u,), _ = parse_usage(util, NOW_S)
    (m,), _ = parse_usage(mem, NOW_S)
    assert (u["metric"], u["value"], u["workload"], u["ts_s"]) == ("gpu_util_pct", 12.5, "abc", 60.0)
    assert (m["metric"], m["value"]) == ("gpu_memory_used_bytes", 2e10)
    plain = _write(tmp_path, "trace.csv", "timestamp_anon,value,container_ip\n60,1,abc\n")
    with pytest.raises(InputError, match="--metric"):
        parse_usage(plain, NOW_S)
    (p,), _ = parse_usage(plain, NOW_S, metric="gpu_util_pct")
    assert p["metric"] == "gpu_util_pct"


def test_clock_skew_duplicates_and_bad_values_are_explicit(tmp_path):
    future = NOW_S + 3600
    f = _write(tmp_path, "u.csv", "timestamp,workload,gpu_util_pct\n"
               f"100,a,50\n100,a,50\n100,a,70\n{future},a,10\n{NOW_S + 60},a,20\n"
               "200,a,150\n200,,5\nyesterday,a,5\n300,a,abc\n300,a\n")
    rows, report = parse_usage(f, NOW_S)
    assert [(r["ts_s"], r["value"]) for r in rows] == [(100.0, 50.0), (NOW_S + 60, 20.0)]  # 60 s ahead: tolerated
    assert report.duplicates == 2 and report.details["conflicting_duplicates"] == 1
    assert report.warnings == ["1 repeated sample(s) had another value than the first; the first was kept"]
    got = {(r.line, r.column): r.reason for r in report.rejections}
    assert got[(5, "timestamp")].startswith("3600 s in the future")
    assert got[(7, "gpu_util_pct")] == "a percentage outside [0, 100] (gpu_util_pct)"
    assert got[(8, "workload")] == "empty workload"
    assert got[(9, "timestamp")] == "not epoch seconds or ISO 8601"
    assert got[(10, "gpu_util_pct")] == "not a number"
    assert got[(11, None)] == "row has 2 fields, the header has 3"
    assert report.read == report.rejected + report.duplicates + len(rows) == 10


def test_cli_usage_json_and_all_rejected(cli, tmp_path):
    db = f"sqlite:///{tmp_path / 'u.db'}"
    f = _write(tmp_path, "u.csv", "timestamp,workload,gpu_util_pct\n100,a,50\n160,a,40\n")
    ok = cli("ingest", "usage", f, "--db", db, "--json")
    assert ok.code == 0 and ok.json()["ingested"] == 2
    bad = _write(tmp_path, "bad.csv", "timestamp,workload,gpu_util_pct\n4102444800,a,50\n")
    res = cli("ingest", "usage", bad, "--db", db)
    assert res.code == 1 and res.err_lines[-1].startswith("error: all 1 rows rejected")
    nohdr = _write(tmp_path, "nohdr.csv", "a,b\n1,2\n")
    res = cli("ingest", "usage", nohdr, "--db", db)
    assert res.code == 2 and "no timestamp column and no workload column" in res.err


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from("abc"), st.integers(0, 100)), max_size=40))
def test_one_sample_per_key_whatever_the_repeats(tmp_path_factory, samples):
    f = tmp_path_factory.mktemp("h") / "u.csv"
    f.write_text("timestamp,workload,gpu_util_pct\n" + "".join(f"{t},{w},{v}\n" for t, w, v in samples))
    rows, report = parse_usage(f, NOW_S)
    assert len(rows) == len({(t, w) for t, w, _ in samples})
    first = {}
    for t, w, v in samples:
        first.setdefault((float(t), w), float(v))
    assert {(r["ts_s"], r["workload"]): r["value"] for r in rows} == first
    assert report.read == len(rows) + report.duplicates


@pytest.mark.slow
def test_real_alibaba_genai_trace(tmp_path):
    path = GENAI / "pod_gpu_duty_cycle_anon.csv"
    if not path.is_file():
        pytest.skip(f"shared trace not found at {path}")
    store = Store.open(f"sqlite:///{tmp_path / 'genai.db'}")
    report = ingest_usage(path, store, NOW_S)
    assert report.rejected == 0 and report.read == report.ingested > 50_000
    with store.session() as s:
        n_workloads = s.scalar(select(func.count(UsageSample.workload.distinct())))
    assert n_workloads == 72  # SOURCE.md: 72 containers
