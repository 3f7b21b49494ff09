"""Waste: the interval rule, both input layouts, bad rows, recommendations, and the contract on real data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costplane.waste import (
    MONTH_HOURS,
    STOP_DELAY_S,
    WasteConfig,
    find_waste,
    idle_stretches,
    intervals,
    parse_usage_csv,
    waste_report,
)


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_interval_rule_paid_and_used_by_hand():
    # samples at 0, 60, 180 s with util 100, 50, 0: intervals 60, 120 and the median (90) for the last
    text = "timestamp,workload,gpu_util_pct\n0,a,100\n60,a,50\n180,a,0\n"
    (w,) = find_waste(parse_usage_csv(text, "t", percent=True), WasteConfig(3.6, gpus_per_workload=2))
    assert w.paid_gpu_hours == pytest.approx((180 + 90) * 2 / 3600)
    assert w.used_gpu_hours == pytest.approx((60 * 1.0 + 120 * 0.5) * 2 / 3600)
    assert w.idle_usd == pytest.approx((w.paid_gpu_hours - w.used_gpu_hours) * 3.6)
    assert list(intervals(np.array([0.0, 60.0, 180.0]))) == [60.0, 120.0, 90.0]


def test_iso_timestamps_any_column_order_and_duplicates_averaged():
    text = ("gpu_util_pct,workload,timestamp\n"
            "20,a,2026-01-01T00:00:00Z\n40,a,2026-01-01T00:00:00Z\n30,a,2026-01-01T00:01:00Z\n")
    s = parse_usage_csv(text, "t", percent=True)
    assert list(s.value) == [30.0, 30.0] and s.ts_s[1] - s.ts_s[0] == 60.0


def test_alibaba_layout_container_is_the_workload():
    text = "value,timestamp_anon,container_ip\n10,100,c1\n20,160,c1\n0,100,c2\n"
    s = parse_usage_csv(text, "t", percent=True)
    assert s.workloads == ["c1", "c2"]


def test_malformed_rows_are_skipped_with_their_line_and_bad_values_rejected():
    text = ("timestamp,workload,gpu_util_pct\n0,a,10\n60,a\nsoon,a,5\n120,a,abc\n180,a,150\n240,a,-3\n300,a,20\n")
    s = parse_usage_csv(text, "f.csv", percent=True)
    assert len(s.ts_s) == 2
    joined = " | ".join(s.warnings)
    assert "1 malformed row(s)" in joined and "line 3" in joined
    assert "timestamp" in joined and "line 4" in joined and "'gpu_util_pct'" in joined and "line 5" in joined
    assert len(s.rejected) == 2 and "line 6" in s.rejected[0] and "line 7" in s.rejected[1]


def test_idle_stretches_sum_durations_of_runs():
    u = np.array([0, 0, 50, 1, 1, 1, 80.0])
    dt = np.array([60, 60, 60, 100, 100, 100, 60.0])
    assert list(idle_stretches(u, dt, 5.0)) == [120.0, 300.0]


def test_auto_stop_recommendation_and_its_saving():
    # one day: busy 1 h, idle 23 h, one sample a minute
    ts = np.arange(0, 86400, 60)
    util = np.where(ts < 3600, 80.0, 0.0)
    text = "timestamp,workload,gpu_util_pct\n" + "".join(f"{t},svc,{u}\n" for t, u in zip(ts, util))
    (w,) = find_waste(parse_usage_csv(text, "t", percent=True), WasteConfig(2.0))
    best = w.best
    assert best.kind == "auto-stop"
    saved_h = (23 * 3600 - STOP_DELAY_S) / 3600
    assert best.monthly_saving_usd == pytest.approx(saved_h * 2.0 * MONTH_HOURS / 24.0)
    assert "cold start" in best.risk


def test_share_and_smaller_gpu_need_memory(bundled_catalog):
    ts = np.arange(0, 7200, 60)
    util = 10.0 + 5 * np.sin(ts / 600.0)  # never idle, p95 ~15 %
    text = "timestamp,workload,gpu_util_pct\n" + "".join(f"{t},svc,{u:.2f}\n" for t, u in zip(ts, util))
    mem = "timestamp,workload,gpu_memory_bytes\n" + "".join(f"{t},svc,{12 * 2**30}\n" for t in ts)
    cfg = WasteConfig(3.0, gpu="A100-80GB", gpu_memory_gib=80.0)
    (w,) = find_waste(parse_usage_csv(text, "u", percent=True), cfg, parse_usage_csv(mem, "m", percent=False),
                      bundled_catalog)
    kinds = {a.kind: a for a in w.actions}
    assert "auto-stop" not in kinds
    assert kinds["share-gpu"].text.startswith("share the GPU 4 ways")  # 100/15 -> 6, 80/(12*1.1) -> 6, capped at 4
    assert kinds["smaller-gpu"].monthly_saving_usd > 0 and w.peak_memory_gib == pytest.approx(12.0)
    (no_mem,) = find_waste(parse_usage_csv(text, "u", percent=True), cfg, None, bundled_catalog)
    assert "smaller-gpu" not in {a.kind for a in no_mem.actions}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.floats(0, 1e6), st.floats(0, 100)), min_size=1, max_size=80),
       st.floats(0.01, 50), st.integers(1, 8))
def test_totals_are_sums_of_rows_and_efficiency_at_most_one(samples, price, gpus):
    text = "timestamp,workload,gpu_util_pct\n" + "".join(f"{t!r},w{k},{u!r}\n" for k, t, u in samples)
    cfg = WasteConfig(price, gpus_per_workload=gpus)
    rows = find_waste(parse_usage_csv(text, "p", percent=True), cfg)
    out = waste_report(rows, cfg)
    assert abs(sum(r["idle_usd"] for r in out["workloads"]) - out["total_idle_usd"]) <= 1e-6
    assert abs(sum(r["paid_usd"] for r in out["workloads"]) - out["total_paid_usd"]) <= 1e-6
    for r in out["workloads"]:
        assert 0 <= r["efficiency"] <= 1 and r["used_gpu_hours"] <= r["paid_gpu_hours"] + 1e-9
        assert r["idle_usd"] >= 0 and r["monthly_saving_usd"] >= 0
        assert math.isclose(r["idle_usd"], (r["paid_gpu_hours"] - r["used_gpu_hours"]) * price, abs_tol=1e-3)


def test_a_single_sample_workload_holds_the_files_median_interval():
    text = "timestamp,workload,gpu_util_pct\n0,a,10\n30,a,10\n60,a,10\n500,b,40\n"
    rows = {w.workload: w for w in find_waste(parse_usage_csv(text, "t", percent=True), WasteConfig(1.0))}
    assert rows["b"].paid_gpu_hours == pytest.approx(30 / 3600)
    assert rows["b"].used_gpu_hours == pytest.approx(0.4 * 30 / 3600)


def test_a_long_gap_is_paid_but_unobserved_not_filled_with_the_last_value():
    # 40 one-minute samples at 60 % util, a 10-hour gap, 10 more at 60 %: the sample before the gap
    # holds for the 300 s staleness window only; the other 35,700 s are paid but unobserved
    ts = [60.0 * i for i in range(40)] + [39 * 60.0 + 36_000 + 60.0 * i for i in range(10)]
    text = "timestamp,workload,gpu_util_pct\n" + "".join(f"{t:g},a,60\n" for t in ts)
    (w,) = find_waste(parse_usage_csv(text, "t", percent=True), WasteConfig(2.0))
    paid_s = ts[-1] - ts[0] + 60.0
    assert w.paid_gpu_hours == pytest.approx(paid_s / 3600)
    assert w.unobserved_gpu_hours == pytest.approx((36_000 - 300) / 3600)
    assert w.used_gpu_hours == pytest.approx(0.6 * (paid_s - 35_700) / 3600)  # 0.55, not the 6.5 a fill gives
    assert w.used_gpu_hours + w.unobserved_gpu_hours <= w.paid_gpu_hours + 1e-12
    row = waste_report([w], WasteConfig(2.0))["workloads"][0]
    assert row["unobserved_gpu_hours"] == pytest.approx(35_700 / 3600, abs=1e-6)
    assert row["idle_usd"] == pytest.approx((row["paid_gpu_hours"] - row["used_gpu_hours"]) * 2.0, abs=1e-3)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(1, 5000), st.floats(0, 100)), min_size=1, max_size=30))
def test_staleness_bounds_used_by_observed_time(steps):
    ts = np.cumsum([0.0] + [d for d, _ in steps[:-1]])
    text = "timestamp,workload,gpu_util_pct\n" + "".join(f"{float(t)!r},a,{u!r}\n" for t, (_, u) in zip(ts, steps))
    (w,) = find_waste(parse_usage_csv(text, "t", percent=True), WasteConfig(1.0))
    dt = intervals(ts) if len(ts) > 1 else np.array([60.0])
    assert w.unobserved_gpu_hours == pytest.approx(np.maximum(dt - 300, 0).sum() / 3600, abs=1e-9)
    assert w.used_gpu_hours <= np.minimum(dt, 300).sum() / 3600 + 1e-9
    assert w.paid_gpu_hours == pytest.approx(dt.sum() / 3600)


def test_smaller_gpu_comes_with_a_host_a_serving_container_fits_on():
    from costplane.catalog import load_catalog

    catalog = load_catalog(None)
    text = "timestamp,workload,gpu_util_pct\n" + "".join(f"{60 * i},a,{10 + i % 5}\n" for i in range(120))
    mem = "timestamp,workload,gpu_memory_bytes\n" + "".join(f"{60 * i},a,{6 * 2**30}\n" for i in range(120))
    cfg = WasteConfig(4.0, gpu="H100", gpu_memory_gib=80.0)
    (w,) = find_waste(parse_usage_csv(text, "u", percent=True), cfg, parse_usage_csv(mem, "m", percent=False),
                      catalog)
    smaller = [a for a in w.actions if a.kind == "smaller-gpu"]
    assert smaller and _host(smaller[0].text)[0] >= 4 and _host(smaller[0].text)[1] >= 16
    # the workload's own host need (known from its pod spec) is respected too
    cfg = WasteConfig(4.0, gpu="H100", gpu_memory_gib=80.0, min_vcpus=16, min_memory_gib=64)
    (w,) = find_waste(parse_usage_csv(text, "u", percent=True), cfg, parse_usage_csv(mem, "m", percent=False),
                      catalog)
    for a in w.actions:
        if a.kind == "smaller-gpu":
            assert _host(a.text)[0] >= 16 and _host(a.text)[1] >= 64


def _host(text: str) -> tuple[float, float]:
    import re

    m = re.search(r", ([\d.]+) vCPUs, ([\d.]+) GiB,", text)
    assert m, text
    return float(m.group(1)), float(m.group(2))
