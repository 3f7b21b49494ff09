"""Stored metric names and the NVIDIA DCGM exporter fields they come from (one table for ingest and the agent).

The store keeps one unit per metric name so readers never guess: utilisation in percent 0..100,
memory in bytes, power in watts, request rate per second, latency in seconds. DCGM itself reports
frame-buffer memory in MiB, so `to_stored` multiplies by 2**20 (dcgm-exporter's
default-counters.csv: `DCGM_FI_DEV_FB_USED, gauge, Framebuffer memory used (in MiB).`).
"""

from __future__ import annotations

from dataclasses import dataclass

MIB_BYTES = 1024 * 1024

GPU_UTIL_PCT = "gpu_util_pct"
GPU_MEMORY_USED_BYTES = "gpu_memory_used_bytes"
GPU_MEMORY_FREE_BYTES = "gpu_memory_free_bytes"
GPU_POWER_W = "gpu_power_w"
GPU_TEMP_C = "gpu_temp_c"
GPU_ENGINE_ACTIVE_PCT = "gpu_engine_active_pct"
REQUESTS_PER_S = "requests_per_s"


def latency_metric(quantile: float) -> str:
    """`latency_p95_s` for 0.95; `latency_p99.9_s` for 0.999."""
    pct = f"{quantile * 100:.10g}"
    return f"latency_p{pct}_s"


@dataclass(frozen=True)
class DcgmField:
    """One DCGM exporter gauge: its name as DCGM spells it, the stored metric, and the factor to stored units."""

    dcgm_name: str
    metric: str
    to_stored: float
    help: str


DCGM_FIELDS: tuple[DcgmField, ...] = (
    DcgmField("DCGM_FI_DEV_GPU_UTIL", GPU_UTIL_PCT, 1.0, "GPU utilization (in %)."),
    DcgmField("DCGM_FI_DEV_FB_USED", GPU_MEMORY_USED_BYTES, MIB_BYTES, "Framebuffer memory used (in MiB)."),
    DcgmField("DCGM_FI_DEV_FB_FREE", GPU_MEMORY_FREE_BYTES, MIB_BYTES, "Framebuffer memory free (in MiB)."),
    DcgmField("DCGM_FI_DEV_POWER_USAGE", GPU_POWER_W, 1.0, "Power draw (in W)."),
    DcgmField("DCGM_FI_DEV_GPU_TEMP", GPU_TEMP_C, 1.0, "GPU temperature (in C)."),
    # Profiling field (ratio 0..1 of time the graphics/compute engine was busy); stored as percent.
    DcgmField("DCGM_FI_PROF_GR_ENGINE_ACTIVE", GPU_ENGINE_ACTIVE_PCT, 100.0, "Ratio of time the graphics engine is active."),
)

DCGM_BY_NAME = {f.dcgm_name: f for f in DCGM_FIELDS}
