"""Importer of SkyPilot's v8 catalog layout (`<cloud>/vms.csv`) into costplane Offer rows.

Columns are read by header name (their order differs between clouds). GCP is priced as host VM plus
attached accelerators (SkyPilot's split), so its rows are joined here; every other cloud lists whole
machines. TPU and CPU-only rows are skipped: the catalog is of GPU machines.
"""

from __future__ import annotations

import ast
import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from costplane.core.errors import CatalogError
from costplane.core.gpus import gpu_memory_gib, normalise_gpu_name
from costplane.core.types import Offer

# GCP host families that carry a fixed GPU model; the count is read from the name.
_GCP_FIXED_HOSTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^a2-highgpu-(\d+)g$"), "A100"),
    (re.compile(r"^a2-megagpu-(\d+)g$"), "A100"),
    (re.compile(r"^a2-ultragpu-(\d+)g$"), "A100-80GB"),
    (re.compile(r"^a3-highgpu-(\d+)g$"), "H100"),
    (re.compile(r"^a3-edgegpu-(\d+)g(-nolssd)?$"), "H100"),
    (re.compile(r"^a3-megagpu-(\d+)g$"), "H100-MEGA"),
    (re.compile(r"^a3-ultragpu-(\d+)g(-nolssd)?$"), "H200"),
    (re.compile(r"^a4-highgpu-(\d+)g$"), "B200"),
)
# g2-standard-N carries 1 L4, except these sizes.
_G2_L4_COUNT = {24: 2, 48: 4, 96: 8}
# Known errors in the source snapshot, corrected on import: (cloud, instance type) -> GPUs per machine.
# Azure's ND H100 v5 carries 8 H100 (Microsoft's ND-H100-v5 size page); SkyPilot's Azure v6 rows say 12.
_GPU_COUNT_FIXES: dict[tuple[str, str], int] = {("azure", "Standard_ND96isr_H100_v5"): 8}
# GPUs attached to n1 hosts: GPU count -> most vCPUs the host may have (GCP's published limits).
_N1_MAX_VCPUS: dict[str, dict[int, int]] = {
    "T4": {1: 48, 2: 48, 4: 96},
    "V100": {1: 12, 2: 24, 4: 48, 8: 96},
    "P100": {1: 16, 2: 32, 4: 96},
    "P4": {1: 24, 2: 48, 4: 96},
}


@dataclass(frozen=True, slots=True)
class _Row:
    path: Path
    line: int
    fields: dict[str, str]

    def text(self, col: str) -> str:
        return (self.fields.get(col) or "").strip()

    def number(self, col: str, required: bool = True) -> float | None:
        raw = self.text(col)
        if raw == "":
            if required:
                raise CatalogError(f"{self.path}:{self.line}: column {col} is empty", fix="give a number")
            return None
        try:
            value = float(raw)
        except ValueError:
            raise CatalogError(
                f"{self.path}:{self.line}: column {col}: {raw!r} is not a number", fix="correct that cell"
            ) from None
        if value < 0:
            raise CatalogError(f"{self.path}:{self.line}: column {col}: {raw} is negative", fix="correct that cell")
        return value


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[_Row]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in required if c not in header]
        if missing:
            raise CatalogError(f"{path}:1: missing column(s) {', '.join(missing)}", fix="use SkyPilot's v8 vms.csv header")
        reader.fieldnames = header
        for fields in reader:
            i = reader.line_num  # the reader's own count: blank lines do not shift it
            if None in fields:
                raise CatalogError(f"{path}:{i}: more cells than header columns", fix="quote cells that hold commas")
            yield _Row(path, i, fields)


def _memory_from_gpuinfo(info: str, count: float) -> float | None:
    """Per-GPU memory from SkyPilot's GpuInfo cell; some clouds write MiB totals, some GiB by mistake."""
    if not info or "{" not in info:
        return None
    try:
        data = json.loads(info)
    except ValueError:
        try:
            data = ast.literal_eval(info.replace("null", "None").replace("true", "True").replace("false", "False"))
        except (ValueError, SyntaxError):
            return None
    total = data.get("TotalGpuMemoryInMiB") if isinstance(data, dict) else None
    if not total or not count:
        return None
    return float(total) / float(count)


def _per_gpu_gib(raw_name: str, info: str, count: float) -> float:
    known = gpu_memory_gib(raw_name)
    if known is not None:
        return known
    mib = _memory_from_gpuinfo(info, count)
    if mib is None:
        return 0.0
    # Some marketplaces write GiB where MiB is meant (48 for an A6000): below 1 GiB it must be GiB.
    return round(mib / 1024.0, 1) if mib >= 1024 else float(mib)


def _offer(cloud: str, row: _Row, gpu_raw: str, count: float, price: float | None, spot: float | None,
           instance_type: str | None = None, zone_col: str = "AvailabilityZone") -> Offer | None:
    if count <= 0 or count != int(count):
        return None  # fractional GPU shares are not machines one can rent whole
    if price is None and spot is None:
        return None
    return Offer(
        cloud=cloud,
        region=row.text("Region"),
        zone=row.text(zone_col) or None,
        instance_type=instance_type or row.text("InstanceType"),
        gpu=normalise_gpu_name(gpu_raw),
        gpu_memory_gib=_per_gpu_gib(gpu_raw, row.text("GpuInfo"), count),
        gpus=int(count),
        vcpus=row.number("vCPUs", required=False) or 0.0,
        memory_gib=row.number("MemoryGiB", required=False) or 0.0,
        price_usd_per_hour=price,
        spot_price_usd_per_hour=spot if spot else None,  # SkyPilot writes 0.00 where spot is absent
    )


def _is_gpu_name(name: str) -> bool:
    return bool(name) and not name.lower().startswith("tpu")


def _read_whole_machine_cloud(cloud: str, path: Path) -> list[Offer]:
    offers = []
    for row in _rows(path, ("InstanceType", "AcceleratorName", "AcceleratorCount", "Price", "Region")):
        name = row.text("AcceleratorName")
        if not _is_gpu_name(name):
            continue
        count = row.number("AcceleratorCount", required=False) or 0.0
        count = _GPU_COUNT_FIXES.get((cloud, row.text("InstanceType")), count)
        offer = _offer(cloud, row, name, count, row.number("Price", required=False),
                       row.number("SpotPrice", required=False) if "SpotPrice" in row.fields else None)
        if offer is not None:
            offers.append(offer)
    return offers


def _gcp_host_gpu(host: str, vcpus: float) -> tuple[str, int] | None:
    for pattern, gpu in _GCP_FIXED_HOSTS:
        m = pattern.match(host)
        if m:
            return gpu, int(m.group(1))
    m = re.match(r"^g2-standard-(\d+)$", host)
    if m:
        return "L4", _G2_L4_COUNT.get(int(m.group(1)), 1)
    return None


def _sum_prices(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def _read_gcp(path: Path) -> list[Offer]:
    hosts: list[_Row] = []
    accels: dict[tuple[str, int, str, str], _Row] = {}
    for row in _rows(path, ("InstanceType", "AcceleratorName", "AcceleratorCount", "Price", "Region")):
        name = row.text("AcceleratorName")
        if row.text("InstanceType"):
            if not name:
                hosts.append(row)
        elif _is_gpu_name(name):
            count = int(row.number("AcceleratorCount") or 0)
            accels[(name, count, row.text("Region"), row.text("AvailabilityZone"))] = row
    offers: list[Offer] = []
    for host in hosts:
        itype, region, zone = host.text("InstanceType"), host.text("Region"), host.text("AvailabilityZone")
        vcpus = host.number("vCPUs", required=False) or 0.0
        host_price, host_spot = host.number("Price", required=False), host.number("SpotPrice", required=False)
        fixed = _gcp_host_gpu(itype, vcpus)
        if fixed is not None:
            attach = [(fixed[0], fixed[1])]
        elif itype.startswith("n1-"):
            attach = [(g, c) for g, limits in _N1_MAX_VCPUS.items() for c, cap in limits.items() if vcpus <= cap]
        else:
            continue
        for gpu, count in attach:
            acc = accels.get((gpu, count, region, zone))
            if acc is None:
                continue
            offer = _offer(
                "gcp", host, gpu, count,
                _sum_prices(host_price, acc.number("Price", required=False)),
                _sum_prices(host_spot, acc.number("SpotPrice", required=False)),
            )
            if offer is not None:
                offers.append(offer)
    return offers


def import_skypilot_dir(root: Path) -> list[Offer]:
    """All GPU offers of a SkyPilot v8 catalog directory (one sub-folder per cloud with vms.csv)."""
    root = Path(root)
    files = sorted(root.glob("*/vms.csv"))
    if not files:
        raise CatalogError(f"{root}: no <cloud>/vms.csv files", fix="point --catalog at a SkyPilot v8 catalog directory")
    offers: list[Offer] = []
    for path in files:
        cloud = path.parent.name.lower()
        offers.extend(_read_gcp(path) if cloud == "gcp" else _read_whole_machine_cloud(cloud, path))
    offers.sort(key=lambda o: (o.cloud, o.region, o.zone or "", o.instance_type, o.gpu, o.gpus))
    return offers
