"""`costplane waste` on the real Alibaba GenAI trace (contract), on the bundled sample, and its errors."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def genai(traces_dir):
    d = traces_dir / "alibaba-genai-2026-usage"
    if not d.is_dir():
        pytest.skip(f"{d} not found")
    return d


def test_contract_on_the_alibaba_trace(cli, genai):
    r = cli("waste", "--utilisation", genai / "pod_gpu_duty_cycle_anon.csv", "--price-usd-per-gpu-hour", "2.0", "--json")
    assert r.code == 0, r.err
    out = r.json()
    rows = out["workloads"]
    assert len(rows) == 72
    keys = {"workload", "paid_gpu_hours", "used_gpu_hours", "efficiency", "idle_usd", "recommendation",
            "monthly_saving_usd"}
    assert all(keys <= set(w) for w in rows)
    assert abs(sum(w["idle_usd"] for w in rows) - out["total_idle_usd"]) <= 0.01
    assert abs(sum(w["paid_gpu_hours"] for w in rows) * 2.0 - out["total_paid_usd"]) <= 0.01
    # the trace's 72 containers hold 1 GPU each for about 19.4 h on average; mean util is about 7 %
    assert 1300 < sum(w["paid_gpu_hours"] for w in rows) < 1500
    assert 0.03 < sum(w["used_gpu_hours"] for w in rows) / sum(w["paid_gpu_hours"] for w in rows) < 0.15


def test_memory_is_joined_on_container_and_time(cli, genai):
    out = cli("waste", "--utilisation", genai / "pod_gpu_duty_cycle_anon.csv", "--memory",
              genai / "pod_gpu_memory_used_bytes_anon.csv", "--gpu", "A100-80GB", "--json").json()
    assert out["memory_joined"]
    peaks = [w["peak_memory_gib"] for w in out["workloads"] if w["peak_memory_gib"] is not None]
    assert len(peaks) >= 70 and max(peaks) < 50  # the trace peaks at 47.3 GiB
    assert {w["recommendation_kind"] for w in out["workloads"]} & {"smaller-gpu", "share-gpu", "auto-stop"}
    assert out["price_usd_per_gpu_hour"] > 0  # cheapest on-demand A100-80GB per GPU in the bundled catalog


def test_bundled_sample_with_the_sample_flag(cli):
    out = cli("waste", "--sample", "--json").json()
    assert len(out["workloads"]) == 30 and out["gpu"] == "A100-80GB"
    assert out["price_usd_per_gpu_hour"] == pytest.approx(23.56656 / 8)


def test_errors_are_one_line_and_name_the_fix(cli, tmp_path):
    f = tmp_path / "u.csv"
    f.write_text("timestamp,workload,gpu_util_pct\n0,a,10\n60,a,20\n")
    r = cli("waste", "--utilisation", f, "--gpu", "H1000", "--json")
    assert r.code != 0 and len(r.err_lines) == 1 and "H100" in r.err and "To fix" in r.err
    r = cli("waste", "--utilisation", f, "--json")
    assert r.code != 0 and "--price-usd-per-gpu-hour" in r.err
    r = cli("waste", "--utilisation", tmp_path / "missing.csv", "--price-usd-per-gpu-hour", "1")
    assert r.code != 0 and "does not exist" in r.err
    bad = tmp_path / "bad.csv"
    bad.write_text("when,who,what\n1,2,3\n")
    r = cli("waste", "--utilisation", bad, "--price-usd-per-gpu-hour", "1")
    assert r.code != 0 and "no timestamp column" in r.err


def test_rejected_rows_are_reported_and_good_rows_kept(cli, tmp_path):
    f = tmp_path / "u.csv"
    f.write_text("timestamp,workload,gpu_util_pct\n0,a,10\n60,a,120\n120,a,20\n180,a\n")
    r = cli("waste", "--utilisation", f, "--price-usd-per-gpu-hour", "1", "--json")
    assert r.code == 0
    out = r.json()
    assert out["rejected_rows"] == 1 and "line 3" in out["rejected"][0]
    assert len(out["warnings"]) == 1 and "line 5" in out["warnings"][0]
    assert "rejected" in r.err and out["workloads"][0]["paid_gpu_hours"] == pytest.approx(240 / 3600, abs=1e-5)  # kept samples at 0 and 120 s: 120 s + median 120 s


def test_store_memory_series_reach_the_memory_recommendation(cli, tmp_path):
    """`waste` without --utilisation reads the store: gpu_memory_used_bytes (as DCGM ingest stores FB_USED) joins
    the workload's utilisation, so its peak memory is measured and drives the smaller-GPU action (SQLite)."""
    from costplane.store import Store

    url = f"sqlite:///{tmp_path / 'waste.db'}"
    store = Store.open(url)
    t0, n = 1_782_864_000.0, 48  # 4 h of 5-minute samples
    node = {"Hostname": "gpu-a", "gpu": "0", "node_kubernetes_io_instance_type": "a2-ultragpu-8g",
            "topology_kubernetes_io_region": "us-central1"}

    def series(metric: str, value) -> list[dict]:
        return [{"source": "prometheus", "metric": metric, "series_key": f"{metric}{{gpu-a,0}}", "ts_s": t0 + 300.0 * k,
                 "value": value(k), "workload": "embed", "team": "search", "labels": node} for k in range(n)]

    gib = 2.0 ** 30
    store.add_usage_samples(series("gpu_util_pct", lambda k: 20.0 + (k % 4))  # p95 23 %: compute to spare
                            + series("gpu_memory_used_bytes", lambda k: (9.0 if k == 30 else 6.0) * gib))
    store.engine.dispose()
    r = cli("waste", "--db", url, "--window", "4h", "--end", t0 + n * 300.0, "--json")
    assert r.code == 0, r.err
    (embed,) = r.json()["workloads"]
    assert embed["peak_memory_gib"] == pytest.approx(9.0)
    smaller = next(a for a in embed["alternatives"] if a["kind"] == "smaller-gpu")
    assert "peak memory 9.0 GiB + 10% fits" in smaller["text"] and smaller["monthly_saving_usd"] > 0
    # without the memory series the same store gives no memory-based action and no peak
    with Store.open(url).engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM usage_samples WHERE metric = 'gpu_memory_used_bytes'")
    (bare,) = cli("waste", "--db", url, "--window", "4h", "--end", t0 + n * 300.0, "--json").json()["workloads"]
    assert bare["peak_memory_gib"] is None
    assert all(a["kind"] != "smaller-gpu" for a in bare["alternatives"])
