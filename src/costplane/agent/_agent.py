"""The agent: a prometheus_client collector in dcgm-exporter's names and labels, a JSON snapshot, store rows."""

from __future__ import annotations

import socket
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from costplane.agent._nvml import GpuReader, GpuReading, NvmlReader
from costplane.ingest._metrics import DCGM_BY_NAME, MIB_BYTES
from costplane.ingest._prometheus import series_key

SOURCE = "agent"
DEFAULT_PORT = 9400  # dcgm-exporter's port, so scrape configs written for it keep working
DCGM_LABELS = ("gpu", "UUID", "device", "modelName", "Hostname", "DCGM_FI_DRIVER_VERSION")

# DCGM field -> GpuReading value in the DCGM unit (FB in MiB as dcgm-exporter reports it).
_EXPORTED = (
    ("DCGM_FI_DEV_GPU_UTIL", lambda r: r.util_pct),
    ("DCGM_FI_DEV_FB_USED", lambda r: None if r.memory_used_bytes is None else r.memory_used_bytes / MIB_BYTES),
    ("DCGM_FI_DEV_FB_FREE", lambda r: None if r.memory_free_bytes is None else r.memory_free_bytes / MIB_BYTES),
    ("DCGM_FI_DEV_POWER_USAGE", lambda r: r.power_w),
    ("DCGM_FI_DEV_GPU_TEMP", lambda r: r.temp_c),
)


def no_gpu_line(reason: str) -> str:
    return f"no NVIDIA driver found (NVML: {reason}): exporting 0 GPUs"


class DcgmCollector(Collector):
    """Reads the GPUs at every scrape and yields DCGM-named gauges plus the agent's own info metrics."""

    def __init__(self, reader: GpuReader, hostname: str) -> None:
        self.reader = reader
        self.hostname = hostname

    def _labels(self, r: GpuReading, driver: str) -> list[str]:
        return [str(r.index), r.uuid, f"nvidia{r.index}", r.name, self.hostname, driver]

    def collect(self):
        status = self.reader.status()
        readings = self.reader.read()
        driver = status.driver_version or ""
        for dcgm_name, value_of in _EXPORTED:
            family = GaugeMetricFamily(dcgm_name, DCGM_BY_NAME[dcgm_name].help, labels=list(DCGM_LABELS))
            for r in readings:
                value = value_of(r)
                if value is not None:
                    family.add_metric(self._labels(r, driver), float(value))
            yield family
        info = GaugeMetricFamily("costplane_agent_info", "costplane NVML agent: NVML state (1 = this agent).",
                                 labels=["nvml", "reason", "driver_version", "hostname"])
        info.add_metric(["ok" if status.available else "unavailable", status.reason, driver, self.hostname], 1.0)
        yield info
        yield GaugeMetricFamily("costplane_agent_gpus", "GPUs this agent exports.", value=float(len(readings)))


class GpuAgent:
    """One node's GPUs as /metrics, as a JSON snapshot, and as store rows; `reader` is NVML unless given."""

    def __init__(self, reader: GpuReader | None = None, hostname: str | None = None) -> None:
        self.reader = reader if reader is not None else NvmlReader()
        self.hostname = hostname or socket.gethostname()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(DcgmCollector(self.reader, self.hostname))

    def status_line(self) -> str:
        status = self.reader.status()
        if not status.available:
            return no_gpu_line(status.reason)
        n = len(self.reader.read())
        return f"NVML ok (driver {status.driver_version or 'unknown'}): exporting {n} GPU(s)"

    def snapshot(self, now_s: float) -> dict[str, Any]:
        status = self.reader.status()
        return {"hostname": self.hostname, "ts_s": now_s, "nvml": status.to_dict(),
                "gpus": [r.to_dict() for r in self.reader.read()]}

    def samples(self, now_s: float) -> list[dict[str, Any]]:
        """UsageSample rows (stored units) keyed like Prometheus-ingested DCGM series of the same GPU."""
        driver = self.reader.status().driver_version or ""
        rows = []
        for r in self.reader.read():
            labels = {"gpu": str(r.index), "UUID": r.uuid, "device": f"nvidia{r.index}", "modelName": r.name,
                      "Hostname": self.hostname, "DCGM_FI_DRIVER_VERSION": driver}
            for dcgm_name, value_of in _EXPORTED:
                value = value_of(r)
                if value is None:
                    continue
                field = DCGM_BY_NAME[dcgm_name]
                rows.append({"source": SOURCE, "metric": field.metric, "series_key": series_key(dcgm_name, labels),
                             "ts_s": now_s, "value": float(value) * field.to_stored, "labels": labels})
        return rows

    def push(self, store, now_s: float) -> int:
        rows = self.samples(now_s)
        return store.add_usage_samples(rows) if rows else 0

    def serve(self, host: str, port: int):
        """Start /metrics in a daemon thread; returns prometheus_client's (server, thread)."""
        return start_http_server(port, addr=host, registry=self.registry)
