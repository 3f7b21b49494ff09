"""Trace loaders: format detection by header, binning, resampling, and one-line errors on bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costplane.core.errors import InputError
from costplane.traces import DemandSeries, bin_arrivals, detect_format, load_trace, series_from_intervals

TRACES = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "traces"
needs_shared = pytest.mark.skipif(not TRACES.is_dir(), reason="shared traces not present")


@needs_shared
@pytest.mark.parametrize(("rel", "fmt", "requests", "steps"), [
    ("azure-llm-2023/AzureLLMInferenceTrace_conv.csv", "azure-llm", 19366, 3502),
    ("azure-llm-2023/AzureLLMInferenceTrace_code.csv", "azure-llm", 8819, 3436),
    ("mooncake-2025/conversation_trace.jsonl", "mooncake", 12031, 3537),
])
def test_public_traces_bin_every_request_per_second(rel, fmt, requests, steps):
    path = TRACES / rel
    assert detect_format(path) == fmt
    series = load_trace(path)
    assert series.step_s == 1.0
    assert series.total == requests  # every request counted once
    assert len(series) == steps      # first to last request, gaps kept as zero demand


@needs_shared
def test_azure_wall_clock_is_utc_epoch_seconds_and_tokens_unit():
    series = load_trace(TRACES / "azure-llm-2023/AzureLLMInferenceTrace_conv.csv", step_s=60, unit="tokens")
    assert series.start_s == pytest.approx(1700158546.68059, abs=1e-3)  # 2023-11-16 18:15:46.6805900 UTC
    assert series.unit == "tokens" and series.counts[0] > 10_000


def test_bundled_sample_is_a_series_with_the_conv_totals():
    from costplane.cli._demo import example_path

    series = load_trace(example_path("azure-conv-requests-per-s.csv"))
    assert detect_format(example_path("azure-conv-requests-per-s.csv")) == "series"
    assert series.total == 19366 and len(series) == 3502


def test_series_spreads_rows_over_their_interval_and_last_row_gets_the_median(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("timestamp,count\n0,60\n60,120\n120,30\n")
    s = load_trace(p, step_s=1)
    assert len(s) == 180 and s.total == pytest.approx(210)
    assert s.counts[0] == pytest.approx(1.0) and s.counts[60] == pytest.approx(2.0) and s.counts[179] == pytest.approx(0.5)
    coarse = load_trace(p, step_s=30)
    assert coarse.counts.tolist() == pytest.approx([30, 30, 60, 60, 15, 15])


def test_series_iso_timestamps_unsorted_rows_sorted_with_warning(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("timestamp,count\n2024-01-01T00:00:10Z,5\n2024-01-01T00:00:00Z,10\n")
    s = load_trace(p, step_s=10)
    assert s.counts.tolist() == [10, 5]
    assert s.start_s == 1704067200.0
    assert any("sorted" in w for w in s.warnings)


def test_series_duplicate_timestamps_are_summed_with_warning():
    s = series_from_intervals(np.array([0.0, 0.0, 10.0]), np.array([3.0, 4.0, 1.0]), 10.0, source="x")
    assert s.counts.tolist() == [7, 1]
    assert any("summed" in w for w in s.warnings)


def test_requests_format_with_service_filter_and_gaps_as_zero(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("timestamp,service,input_tokens,output_tokens\n0.2,a,10,5\n3.5,a,1,1\n1.0,b,1,1\n")
    s = load_trace(p, service="a")
    assert s.counts.tolist() == [1, 0, 0, 1]
    t = load_trace(p, unit="tokens")
    assert t.total == 19


@pytest.mark.parametrize(("text", "needle"), [
    ("timestamp,count\n0,5\n1,-2\n", "negative count"),
    ("foo,bar\n1,2\n", "header is 'foo,bar'"),
    ("timestamp,count\n", "no rows"),
    ("", "is empty"),
    ("timestamp,count\nyesterday,3\n", "is not a time"),
    ("timestamp,input_tokens,output_tokens\n1,2,x\n", "is not a number"),
])
def test_bad_input_raises_one_line_with_a_fix(tmp_path, text, needle):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(InputError) as exc:
        load_trace(p)
    msg = exc.value.one_line()
    assert needle in msg and "To fix:" in msg and "\n" not in msg


def test_bin_arrivals_and_series_value():
    s = bin_arrivals(np.array([5.0, 5.5, 7.2]), None, 1.0)
    assert isinstance(s, DemandSeries) and s.counts.tolist() == [2, 0, 1] and s.start_s == 5.0
    assert s.rate.tolist() == [2, 0, 1] and s.tiled(3).total == 9


def test_dlrm_and_gpu_use_files_load_as_demand_series(traces_dir):
    from costplane.traces import dlrm_service_series, dlrm_services, load_trace

    dlrm = traces_dir / "alibaba-dlrm-2025/disaggregated_DLRM_trace_even_apps.csv"
    assert dlrm_services(dlrm, 3) == ["app_126", "app_62", "app_144"]  # rule: largest std of live GPU instances
    s = dlrm_service_series(dlrm, "app_62", 60.0)
    assert len(s) == 44_626 and s.step_s == 60.0 and s.unit == "instances"
    assert 90.0 <= s.rate.min() and s.rate.max() == pytest.approx(179.0)  # mean live instances per step
    via = load_trace(dlrm, service="app_62")
    assert np.array_equal(via.counts, s.counts) and via.warnings  # 60 s steps by default, said
    g = load_trace(traces_dir / "alibaba-genai-2026-usage/pod_gpu_duty_cycle_anon.csv", step_s=15.0)
    assert g.unit == "gpu-busy" and g.rate.mean() == pytest.approx(4.26, abs=0.01)
    assert g.rate.max() == pytest.approx(17.3, abs=0.01)


def test_pai_pod_list_gives_hourly_series_that_add_up(traces_dir):
    import pandas as pd

    from costplane.traces import pai_hourly_series

    path = traces_dir / "alibaba-gpu-2023/openb_pod_list_default.csv"
    series = dict(pai_hourly_series(path))
    assert list(series) == [f"{q}/{k}" for q in ("all", "LS", "BE") for k in ("tasks", "gpus-requested", "gpus-live")]
    assert {y.size for y in series.values()} == {823}  # 34 days of whole hours
    for kind in ("tasks", "gpus-requested", "gpus-live"):  # LS + BE never exceeds all (other QoS classes exist)
        assert np.all(series[f"LS/{kind}"] + series[f"BE/{kind}"] <= series[f"all/{kind}"] + 1e-9)
    pods = pd.read_csv(path)
    assert series["all/tasks"].sum() <= len(pods) and series["all/tasks"].sum() > 0.9 * len(pods)
    assert series["all/gpus-live"].min() >= 0 and series["all/gpus-live"].max() < pods.num_gpu.sum()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-50, 150), st.floats(0, 80), st.floats(0.1, 8)), min_size=1, max_size=30))
def test_weighted_instance_seconds_equal_the_overlap_by_brute_force(pods):
    from costplane.traces._fleet import _instance_seconds

    created = np.array([p[0] for p in pods])
    deleted = created + np.array([p[1] for p in pods])
    weights = np.array([p[2] for p in pods])
    edges = np.arange(0.0, 121.0, 10.0)
    per_step = np.diff(_instance_seconds(created, deleted, edges, weights))
    overlap = np.clip(np.minimum(deleted[:, None], edges[None, 1:]) - np.maximum(created[:, None], edges[None, :-1]),
                      0.0, None)
    np.testing.assert_allclose(per_step, (overlap * weights[:, None]).sum(axis=0), atol=1e-6)
