"""NVML node agent: reads local NVIDIA GPUs and exports them under DCGM exporter metric names.

- `NvmlReader(nvml=None)` wraps nvidia-ml-py (`pynvml`); pass any object with the same functions
  (nvmlInit, nvmlDeviceGetCount, nvmlDeviceGetHandleByIndex, nvmlDeviceGetName, nvmlDeviceGetUUID,
  nvmlDeviceGetUtilizationRates, nvmlDeviceGetMemoryInfo, nvmlDeviceGetPowerUsage, ...) to test it.
  No library or no driver is a state, not a crash: `status().available` is False with NVML's reason.
- `GpuAgent(reader)` serves `/metrics` (prometheus_client) with DCGM_FI_DEV_GPU_UTIL (%),
  DCGM_FI_DEV_FB_USED / _FB_FREE (MiB), DCGM_FI_DEV_POWER_USAGE (W), DCGM_FI_DEV_GPU_TEMP (C) and the
  labels dcgm-exporter uses (gpu, UUID, device, modelName, Hostname, DCGM_FI_DRIVER_VERSION), plus
  `costplane_agent_info` and `costplane_agent_gpus`, so one Prometheus query set reads both.
- `GpuAgent.samples(now_s)` gives the same readings as UsageSample rows (source `agent`, stored units).
"""

from costplane.agent._agent import DcgmCollector, GpuAgent
from costplane.agent._nvml import GpuReader, GpuReading, NvmlReader, NvmlStatus

__all__ = ["DcgmCollector", "GpuAgent", "GpuReader", "GpuReading", "NvmlReader", "NvmlStatus"]
