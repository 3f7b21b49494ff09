"""Label/tag mapping and the range-query window arithmetic (pure functions, hypothesis where invariants exist)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from costplane.core.errors import InputError
from costplane.ingest import (
    LabelMapping,
    TagMapping,
    aligned_window,
    chunk_window,
    parse_time_arg,
    read_mapping_file,
    workload_from_pod,
)


@pytest.mark.parametrize("pod, workload", [
    ("llama-chat-7d9f8c6b5d-x2kq9", "llama-chat"),   # Deployment
    ("trainer-3", "trainer"),                         # StatefulSet
    ("eval-job-9xk2p", "eval-job"),                   # Job
    ("llama-serve", "llama-serve"),                   # vowels: a real name, kept
    ("standalone", "standalone"),
])
def test_pod_names_lose_controller_suffix(pod, workload):
    assert workload_from_pod(pod) == workload


def test_label_mapping_order_and_overrides():
    m = LabelMapping()
    assert m.attribute({"pod": "api-5c4b9d7f8d-x7kzq", "namespace": "search"}) == ("api", "search", None)
    assert m.attribute({"app": "chat", "pod": "x-1", "team": "inf", "namespace": "ns"}) == ("chat", "inf", None)
    assert m.attribute({"Hostname": "n1"}) == (None, None, None)
    custom = LabelMapping.from_dict({"workload": "container", "team": ["label_owner"], "strip_pod_suffix": False,
                                     "namespaces": {"prod": {"project": "web"}}})
    assert custom.attribute({"container": "srv", "label_owner": "sre", "namespace": "prod"}) == ("srv", "sre", "web")
    with pytest.raises(InputError, match="unknown key"):
        LabelMapping.from_dict({"teams": ["x"]})


def test_mapping_file_yaml(tmp_path):
    f = tmp_path / "m.yaml"
    f.write_text("team: [label_team, namespace]\nserving:\n  requests: [http_requests_total]\ntags:\n  team: [owner]\n")
    spec = read_mapping_file(f)
    assert LabelMapping.from_dict(spec).team == ("label_team", "namespace")
    assert TagMapping.from_dict(spec["tags"]).attribute({"user:Owner": "sre"}) == (None, "sre", None)
    bad = tmp_path / "bad.yaml"
    bad.write_text("team: [\n")
    with pytest.raises(InputError, match="not valid YAML"):
        read_mapping_file(bad)


def test_time_arguments():
    now = 1_800_000_000.0
    assert parse_time_arg("now", now, "--end") == now
    assert parse_time_arg("-1h", now, "--start") == now - 3600
    assert parse_time_arg("-7d", now, "--start") == now - 7 * 86400
    assert parse_time_arg("2026-11-25T00:00:00Z", now, "--start") == 1_795_564_800.0
    with pytest.raises(InputError, match="--start 'yesterday' is not a time"):
        parse_time_arg("yesterday", now, "--start")


@given(st.integers(0, 10_000), st.integers(0, 5_000), st.sampled_from([1, 15, 60, 300]), st.integers(2, 50))
def test_chunks_cover_every_step_once(start, length, step, max_points):
    a, b = aligned_window(float(start), float(start + length), float(step))
    chunks = chunk_window(a, b, float(step), max_points)
    asked = [c0 + k * step for c0, c1 in chunks for k in range(int(round((c1 - c0) / step)) + 1)]
    expected = [a + k * step for k in range(int((b - a) // step) + 1)] if b >= a else []
    assert asked == expected
    assert all(round((c1 - c0) / step) + 1 <= max_points for c0, c1 in chunks)
