"""The SkyPilot v8 importer on the real shared snapshot: counts, exact prices, GPU names, skipped rows."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from costplane.catalog import import_skypilot_dir, load_catalog
from costplane.core.types import Catalog, Offer

WHOLE_MACHINE_CLOUDS = ("aws", "azure", "cudo", "hyperstack", "lambda", "nebius", "oci", "shadeform", "vast", "verda")


def _source_rows(skypilot_dir: Path, cloud: str) -> list[dict[str, str]]:
    with (skypilot_dir / cloud / "vms.csv").open(newline="", encoding="utf-8-sig") as fh:
        return [{k.strip(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def _num(raw: str) -> float | None:
    return float(raw) if raw else None


def _expected_whole_machine_count(rows: list[dict[str, str]]) -> int:
    """Independent count: GPU rows (not TPU, not CPU-only) with a whole GPU count and at least one price."""
    n = 0
    for r in rows:
        name = r.get("AcceleratorName", "")
        count = float(r.get("AcceleratorCount") or 0)
        if not name or name.lower().startswith("tpu") or count <= 0 or count != int(count):
            continue
        if _num(r.get("Price", "")) is None and not _num(r.get("SpotPrice", "")):
            continue
        n += 1
    return n


def _by_cloud(catalog: Catalog) -> Counter:
    return Counter(o.cloud for o in catalog.offers)


def test_every_cloud_of_the_snapshot_is_imported(skypilot_catalog):
    assert set(_by_cloud(skypilot_catalog)) == {"gcp", *WHOLE_MACHINE_CLOUDS}
    assert skypilot_catalog.source.startswith("SkyPilot v8 catalog")


@pytest.mark.parametrize("cloud", WHOLE_MACHINE_CLOUDS)
def test_whole_machine_clouds_keep_every_priced_gpu_row(skypilot_catalog, skypilot_dir, cloud):
    expected = _expected_whole_machine_count(_source_rows(skypilot_dir, cloud))
    assert expected > 0
    assert _by_cloud(skypilot_catalog)[cloud] == expected


def test_gcp_count_is_plausible(skypilot_catalog, skypilot_dir):
    rows = _source_rows(skypilot_dir, "gcp")
    gpu_hosts = [r for r in rows if r["InstanceType"].startswith(("a2-", "a3-", "g2-"))]
    n1_hosts = [r for r in rows if r["InstanceType"].startswith("n1-")]
    n = _by_cloud(skypilot_catalog)["gcp"]
    # At most one offer per fixed-GPU host row; n1 hosts fan out over T4/V100/P100/P4 × counts.
    assert len(gpu_hosts) <= n <= len(gpu_hosts) + 15 * len(n1_hosts)
    assert 300 < n < 1000


def test_aws_p5_48xlarge_rows_carry_the_source_price(skypilot_catalog, skypilot_dir):
    source = [r for r in _source_rows(skypilot_dir, "aws") if r["InstanceType"] == "p5.48xlarge"]
    assert len(source) >= 5
    offers = {(o.region, o.zone): o for o in skypilot_catalog.offers
              if o.cloud == "aws" and o.instance_type == "p5.48xlarge"}
    assert len(offers) == len(source)
    for r in source:
        o = offers[(r["Region"], r["AvailabilityZone"])]
        assert o.price_usd_per_hour == float(r["Price"])
        assert o.spot_price_usd_per_hour == (float(r["SpotPrice"]) if r["SpotPrice"] else None)
        assert (o.gpu, o.gpus, o.gpu_memory_gib, o.vcpus, o.memory_gib) == ("H100", 8, 80.0, 192.0, 2048.0)


def _gcp_accelerator(rows, name: str, count: int, zone: str) -> dict[str, str]:
    found = [r for r in rows if not r["InstanceType"] and r["AcceleratorName"] == name
             and int(float(r["AcceleratorCount"])) == count and r["AvailabilityZone"] == zone]
    assert len(found) == 1, (name, count, zone)
    return found[0]


def test_gcp_a3_highgpu_is_host_plus_eight_h100(skypilot_catalog, skypilot_dir):
    rows = _source_rows(skypilot_dir, "gcp")
    hosts = [r for r in rows if r["InstanceType"] == "a3-highgpu-8g"]
    assert hosts
    checked = 0
    for host in hosts:
        acc = _gcp_accelerator(rows, "H100", 8, host["AvailabilityZone"])
        [o] = [o for o in skypilot_catalog.offers if o.cloud == "gcp" and o.instance_type == "a3-highgpu-8g"
               and o.zone == host["AvailabilityZone"]]
        assert o.price_usd_per_hour == pytest.approx(float(host["Price"]) + float(acc["Price"]), rel=1e-12)
        assert o.spot_price_usd_per_hour == pytest.approx(float(host["SpotPrice"]) + float(acc["SpotPrice"]), rel=1e-12)
        assert (o.gpu, o.gpus, o.region) == ("H100", 8, host["Region"])
        checked += 1
    assert checked == len(hosts)


def test_gcp_n1_with_t4_is_host_plus_t4(skypilot_catalog, skypilot_dir):
    rows = _source_rows(skypilot_dir, "gcp")
    host = next(r for r in rows if r["InstanceType"] == "n1-standard-8" and r["Region"] == "us-central1")
    zone = host["AvailabilityZone"]
    for count in (1, 2, 4):
        acc = _gcp_accelerator(rows, "T4", count, zone)
        [o] = [o for o in skypilot_catalog.offers if o.cloud == "gcp" and o.instance_type == "n1-standard-8"
               and o.zone == zone and o.gpu == "T4" and o.gpus == count]
        assert o.price_usd_per_hour == pytest.approx(float(host["Price"]) + float(acc["Price"]), rel=1e-12)
        assert o.vcpus == 8.0 and o.gpu_memory_gib == 16.0


def test_gcp_n1_respects_the_vcpu_limit_per_gpu_count(skypilot_catalog):
    # GCP allows at most 12 vCPUs with one V100: n1-standard-16 + 1 × V100 is not a machine.
    bad = [o for o in skypilot_catalog.offers if o.cloud == "gcp" and o.instance_type == "n1-standard-16"
           and o.gpu == "V100" and o.gpus == 1]
    assert bad == []
    assert any(o.instance_type == "n1-standard-8" and o.gpu == "V100" and o.gpus == 1
               for o in skypilot_catalog.offers if o.cloud == "gcp")


def test_gcp_a3_megagpu_is_normalised_to_h100(skypilot_catalog):
    mega = [o for o in skypilot_catalog.offers if o.instance_type == "a3-megagpu-8g"]
    assert mega and {(o.gpu, o.gpus, o.gpu_memory_gib) for o in mega} == {("H100", 8, 80.0)}


@pytest.mark.parametrize(
    ("cloud", "raw_name", "canonical", "memory_gib"),
    [
        ("hyperstack", "H100-80G-PCIe", "H100", 80.0),
        ("hyperstack", "H100-80G-SXM5", "H100", 80.0),
        ("hyperstack", "A100-80G-PCIe", "A100-80GB", 80.0),
        ("cudo", "H100-SXM", "H100", 80.0),
        ("aws", "A100", "A100", 40.0),
        ("aws", "A100-80GB", "A100-80GB", 80.0),
        ("aws", "V100-32GB", "V100-32GB", 32.0),
    ],
)
def test_gpu_names_are_normalised(skypilot_catalog, skypilot_dir, cloud, raw_name, canonical, memory_gib):
    raw_types = {r["InstanceType"] for r in _source_rows(skypilot_dir, cloud) if r["AcceleratorName"] == raw_name}
    assert raw_types
    offers = [o for o in skypilot_catalog.offers if o.cloud == cloud and o.instance_type in raw_types]
    assert offers
    assert {o.gpu for o in offers} == {canonical}
    assert {o.gpu_memory_gib for o in offers} == {memory_gib}


def test_only_canonical_names_for_the_contract_models(skypilot_catalog):
    names = set(skypilot_catalog.gpu_models)
    contract = {"H100", "A100", "A100-80GB", "H200", "B200", "L40S", "L4", "A10G", "A10", "T4", "V100", "V100-32GB"}
    assert contract <= names
    assert not {n for n in names if n.startswith("H100") and n != "H100"}
    assert not {n for n in names if n.upper().startswith("A100") and n not in ("A100", "A100-80GB")}


def test_tpu_and_cpu_rows_are_skipped(skypilot_catalog):
    assert all(o.gpus >= 1 for o in skypilot_catalog.offers)
    assert not [o for o in skypilot_catalog.offers if "tpu" in o.gpu.lower() or o.instance_type.startswith("tpu")]
    assert not [o for o in skypilot_catalog.offers if o.cloud == "gcp" and o.instance_type.startswith(("e2-", "n2-"))]
    assert all(o.gpu for o in skypilot_catalog.offers)


def test_empty_price_rows_have_no_on_demand_price(skypilot_catalog, skypilot_dir):
    empty = [r for r in _source_rows(skypilot_dir, "aws") if not r["Price"]]
    assert empty, "the snapshot has an aws row without Price"
    for r in empty:
        [o] = [o for o in skypilot_catalog.offers if o.cloud == "aws" and o.instance_type == r["InstanceType"]
               and o.zone == r["AvailabilityZone"]]
        assert o.price_usd_per_hour is None
        assert o.spot_price_usd_per_hour == float(r["SpotPrice"])
        assert o.price(spot=False) is None and o.price(spot=True) == float(r["SpotPrice"])


def test_zero_spot_price_means_no_spot_offer(skypilot_catalog):
    assert all(o.spot_price_usd_per_hour is None or o.spot_price_usd_per_hour > 0 for o in skypilot_catalog.offers)


def test_crlf_files_are_read(skypilot_catalog, skypilot_dir):
    raw = (skypilot_dir / "lambda" / "vms.csv").read_bytes()
    assert b"\r\n" in raw, "lambda's vms.csv ends lines with CRLF in the snapshot"
    lam = [o for o in skypilot_catalog.offers if o.cloud == "lambda"]
    assert lam
    for o in lam:
        assert "\r" not in o.region and "\r" not in o.instance_type and "\r" not in (o.zone or "")


def test_crlf_and_lf_give_the_same_offers(tmp_path, skypilot_dir):
    text = (skypilot_dir / "aws" / "vms.csv").read_text(encoding="utf-8")
    lf_text = text.replace("\r\n", "\n")
    for name, body in (("lf", lf_text), ("crlf", lf_text.replace("\n", "\r\n"))):
        (tmp_path / name / "aws").mkdir(parents=True)
        (tmp_path / name / "aws" / "vms.csv").write_bytes(body.encode())
    assert import_skypilot_dir(tmp_path / "lf") == import_skypilot_dir(tmp_path / "crlf")


def test_columns_are_read_by_header_name(tmp_path):
    (tmp_path / "mycloud").mkdir()
    (tmp_path / "mycloud" / "vms.csv").write_text(
        "Region,Price,InstanceType,SpotPrice,AcceleratorCount,AcceleratorName,vCPUs,MemoryGiB\n"
        "r1,12.5,big.8x,0.00,8,H100-SXM,96,1024\n"
        "r1,3.0,cpu.only,,,,,\n"
        "r1,1.0,frac,,0.5,T4,4,16\n"
    )
    [o] = import_skypilot_dir(tmp_path)
    assert o == Offer("mycloud", "r1", None, "big.8x", "H100", 80.0, 8, 96.0, 1024.0, 12.5, None)


def test_bundled_catalog_is_usable(bundled_catalog):
    assert len(bundled_catalog) > 1000
    assert bundled_catalog.as_of != "unknown"
    assert "H100" in bundled_catalog.gpu_models
    assert all(o.price(False) is not None or o.price(True) is not None for o in bundled_catalog.offers)


def test_load_catalog_of_a_missing_path_names_it(tmp_path):
    from costplane.core.errors import CatalogError

    with pytest.raises(CatalogError, match="does-not-exist"):
        load_catalog(tmp_path / "does-not-exist.csv")


def test_known_source_errors_are_corrected_on_import(skypilot_catalog, bundled_catalog):
    # SkyPilot's Azure v6 rows give Standard_ND96isr_H100_v5 12 GPUs; the machine has 8 (Microsoft's size page).
    for catalog in (skypilot_catalog, bundled_catalog):
        nd = [o for o in catalog.offers if o.instance_type == "Standard_ND96isr_H100_v5"]
        assert nd and all(o.gpus == 8 and o.gpu == "H100" for o in nd)
