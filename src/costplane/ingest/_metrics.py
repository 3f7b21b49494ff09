"""The NVIDIA DCGM exporter fields and the stored metrics they feed (names: costplane.core.vocabulary).

The store keeps one unit per metric name so readers never guess: utilisation in percent 0..100,
memory in bytes, power in watts, request rate per second, latency in seconds. DCGM itself reports
frame-buffer memory in MiB, so `to_stored` multiplies by 2**20 (dcgm-exporter's
default-counters.csv: `DCGM_FI_DEV_FB_USED, gauge, Framebuffer memory used (in MiB).`).
"""

from __future__ import annotations

from dataclasses import dataclass

from costplane.core.vocabulary import (  # noqa: F401  (re-exported: one vocabulary, defined in core)
    GPU_ENGINE_ACTIVE_PCT,
    GPU_MEMORY_FREE_BYTES,
    GPU_MEMORY_USED_BYTES,
    GPU_POWER_W,
    GPU_TEMP_C,
    GPU_UTIL_PCT,
    QUEUE_WAITING,
    REQUESTS_PER_S,
    latency_metric,
)

MIB_BYTES = 1024 * 1024


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
