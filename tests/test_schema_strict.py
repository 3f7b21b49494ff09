"""Issue 13's typos: every user file rejects unknown keys with "did you mean", names file, line and key, bounds numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from costplane.autoscale import read_service_spec
from costplane.catalog import load_catalog, read_discounts
from costplane.controller import load_services
from costplane.core.errors import InputError
from costplane.core.files import read_structured_lines
from costplane.core.schema import FleetFile, validate
from costplane.ingest import read_mapping_file
from costplane.placement import read_fleet_spec
from costplane.training import read_profile

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "costplane" / "examples"
SHARED_EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "examples"

FLEET = """\
workloads:
  - name: train
    gpu: H100
    gpus: 8
    hours: 10
{extra}"""

SPEC = """\
name: chat
gpu: H100
gpus_per_replica: 1
capacity_per_replica: 2.0
cold_start_s: 120
min_replicas: 0
max_replicas: 32
scale_to_zero: true
{extra}"""

PROFILE = """\
name: ft
work: 2.0e9
memory_gib_per_gpu: 40
throughput:
  - {{gpu: H100, gpus: 8, units_per_s: 41000}}
  - {{gpu: H100, gpus: 16, units_per_s: 78000}}
{extra}"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _error(fn, path) -> str:
    with pytest.raises(InputError) as info:
        fn(path)
    return info.value.one_line()


def test_fleet_singular_cloud_suggests_clouds_with_line(tmp_path):
    path = _write(tmp_path, "plan.yaml", FLEET.format(extra="    cloud: aws\n"))
    msg = _error(read_fleet_spec, path)
    assert f"{path}, line 6: unknown key `cloud` in workloads[0] (train) (did you mean `clouds`?)" in msg
    assert msg.endswith("To fix: rename `cloud` to `clouds`")


def test_fleet_top_level_quota_suggests_quotas(tmp_path):
    path = _write(tmp_path, "plan.yaml", FLEET.format(extra="quota:\n  - {cloud: aws, max_gpus: 0}\n"))
    msg = _error(read_fleet_spec, path)
    assert "line 6: unknown key `quota` (did you mean `quotas`?)" in msg


@pytest.mark.parametrize(("extra", "needle"), [
    ("    hours2: 1\n", "unknown key `hours2`"),
    ("", None),
])
def test_fleet_valid_and_invalid(tmp_path, extra, needle):
    path = _write(tmp_path, "plan.yaml", FLEET.format(extra=extra))
    if needle is None:
        assert read_fleet_spec(path).workloads[0].request.gpus_per_node == 8
    else:
        assert needle in _error(read_fleet_spec, path)


@pytest.mark.parametrize(("value", "needle"), [
    ("1e308", "must be <= 100000"), ("0", "must be > 0"), (".nan", "finite number"), ("true", "not true/false"),
    ("ten", "valid number"),
])
def test_fleet_hours_are_bounded(tmp_path, value, needle):
    path = _write(tmp_path, "plan.yaml", FLEET.replace("hours: 10", f"hours: {value}").format(extra=""))
    msg = _error(read_fleet_spec, path)
    assert "line 5: `workloads[0] (train).hours`" in msg and needle in msg


def test_service_spec_max_queue_suggests_max_queue_s(tmp_path):
    path = _write(tmp_path, "svc.yaml", SPEC.format(extra="max_queue: 30\n"))
    msg = _error(read_service_spec, path)
    assert f"{path}, line 9: unknown key `max_queue` (did you mean `max_queue_s`?)" in msg
    path = _write(tmp_path, "svc2.yaml", SPEC.format(extra="price_usd_per_hr: 3.5\n"))
    assert "did you mean `price_usd_per_hour`?" in _error(read_service_spec, path)


@pytest.mark.parametrize(("key", "value", "needle"), [
    ("capacity_per_replica", "0", "must be > 0"),
    ("max_replicas", "100000000", "must be <= 10000"),
    ("cold_start_s", "-1", "must be >= 0"),
    ("cold_start_s", "1e9", "must be <= 86400"),
    ("scale_to_zero", "maybe", "true or false"),
])
def test_service_spec_ranges(tmp_path, key, value, needle):
    text = "\n".join(f"{key}: {value}" if line.startswith(f"{key}:") else line
                     for line in SPEC.format(extra="").splitlines())
    msg = _error(read_service_spec, _write(tmp_path, "svc.yaml", text + "\n"))
    assert f"`{key}` {needle}" in msg or needle in msg


def test_service_spec_max_queue_s_range(tmp_path):
    msg = _error(read_service_spec, _write(tmp_path, "svc.yaml", SPEC.format(extra="max_queue_s: 7200\n")))
    assert "line 9: `max_queue_s` must be <= 3600" in msg


@pytest.mark.parametrize(("extra", "suggestion"), [
    ("max_node: 2\n", "max_nodes"),
    ("checkpoint_interval: 1800\n", "checkpoint_interval_s"),
    ("restore: 300\n", "restore_s"),
])
def test_training_profile_typos(tmp_path, extra, suggestion):
    msg = _error(read_profile, _write(tmp_path, "p.yaml", PROFILE.format(extra=extra)))
    assert "line 7: unknown key" in msg and f"did you mean `{suggestion}`?" in msg


def test_training_profile_point_typo_names_the_point(tmp_path):
    text = PROFILE.format(extra="").replace("gpus: 16", "gpu_count: 16")
    msg = _error(read_profile, _write(tmp_path, "p.yaml", text))
    assert "line 6: unknown key `gpu_count` in throughput[1]" in msg


def test_discounts_misspelled_cloud_names_the_known_clouds(tmp_path, bundled_catalog):
    path = _write(tmp_path, "d.yaml", "discounts:\n  - {cloud: aws, percent: 10}\n  - {cloud: awz, percent: 5}\n")
    with pytest.raises(InputError) as info:
        load_catalog(discounts=path)
    msg = info.value.one_line()
    assert "line 3: unknown cloud `awz` in discounts[1] (did you mean `aws`?)" in msg
    assert "aws" in msg.split("To fix:")[1] and "gcp" in msg.split("To fix:")[1]


def test_discounts_unknown_key_and_csv_column(tmp_path):
    msg = _error(read_discounts, _write(tmp_path, "d.yaml", "- {cloud: aws, percentage: 10}\n"))
    assert "line 1: unknown key `percentage` in discounts[0] (did you mean `percent`?)" in msg
    msg = _error(read_discounts, _write(tmp_path, "d.csv", "cloud,family,percent\naws,p5,10\n"))
    assert "line 2: unknown key `family`" in msg and "instance_family" in msg


def test_mapping_and_services_typos(tmp_path):
    msg = _error(read_mapping_file, _write(tmp_path, "m.yaml", "team: [namespace]\nnamespaces:\n  ml: {teem: x}\n"))
    assert "line 3: unknown key `teem` in namespaces.ml (did you mean `team`?)" in msg
    text = "services:\n  - name: chat\n    polcy: hybrid\n" + "".join(
        f"    {line}\n" for line in SPEC.format(extra="").splitlines()[1:])
    msg = _error(load_services, _write(tmp_path, "s.yaml", text))
    assert "line 3: unknown key `polcy` in services[0] (chat) (did you mean `policy`?)" in msg


def test_json_files_get_lines_too(tmp_path):
    path = _write(tmp_path, "plan.json", '{"workloads": [\n {"name": "a", "gpu": "H100", "hours": 1,\n  "nodez": 2}]}')
    data, lines = read_structured_lines(path, "plan file")
    with pytest.raises(InputError, match=r"line 3: unknown key `nodez` .*did you mean `nodes`"):
        validate(FleetFile, data, str(path), lines)


def test_every_shipped_example_still_loads():
    assert read_service_spec(EXAMPLES / "replay-service.yaml").max_queue_s == 10.0
    assert len(read_fleet_spec(EXAMPLES / "fleet.yaml").workloads) == 7
    assert read_profile(EXAMPLES / "train-llama-8b.yaml").min_gpus_per_node == 8
    assert load_services(EXAMPLES / "services.yaml")[0].spec["max_queue_s"] == 10
    if SHARED_EXAMPLES.is_dir():
        for path in SHARED_EXAMPLES.glob("*.yaml"):
            assert read_service_spec(path).capacity_per_replica > 0
