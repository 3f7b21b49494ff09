"""Reading GPUs through NVML (nvidia-ml-py): one `GpuReading` per device, in stored units (%, bytes, W, C)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

MILLIWATTS_PER_W = 1000.0
NVML_TEMPERATURE_GPU = 0  # pynvml.NVML_TEMPERATURE_GPU


@dataclass(frozen=True)
class GpuReading:
    index: int
    uuid: str
    name: str
    util_pct: float | None
    memory_used_bytes: int | None
    memory_free_bytes: int | None
    memory_total_bytes: int | None
    power_w: float | None
    temp_c: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class NvmlStatus:
    available: bool
    reason: str  # "ok", or NVML's own words for why not
    driver_version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class GpuReader(Protocol):
    def status(self) -> NvmlStatus: ...

    def read(self) -> list[GpuReading]: ...


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class NvmlReader:
    """GPUs through NVML. `nvml` is the pynvml module by default; tests pass a fake with the same functions."""

    def __init__(self, nvml: Any | None = None) -> None:
        self._nvml = nvml
        self._status: NvmlStatus | None = None
        self.device_errors: dict[int, str] = {}

    def status(self) -> NvmlStatus:
        if self._status is None:
            self._status = self._init()
        return self._status

    def _init(self) -> NvmlStatus:
        if self._nvml is None:
            try:
                import pynvml
            except ImportError:
                return NvmlStatus(False, "nvidia-ml-py is not installed (pip install nvidia-ml-py)")
            self._nvml = pynvml
        try:
            self._nvml.nvmlInit()
        except Exception as exc:  # pynvml raises NVMLError subclasses; a fake may raise anything
            return NvmlStatus(False, str(exc) or type(exc).__name__)
        driver = self._optional(self._nvml.nvmlSystemGetDriverVersion)
        return NvmlStatus(True, "ok", _text(driver) if driver is not None else None)

    def _optional(self, fn: Callable, *args) -> Any:
        """A field this GPU or driver does not support (NVMLError_NotSupported) is None, not a failure."""
        try:
            return fn(*args)
        except Exception:
            return None

    def read(self) -> list[GpuReading]:
        if not self.status().available:
            return []
        nv = self._nvml
        readings = []
        self.device_errors = {}
        try:
            count = nv.nvmlDeviceGetCount()
        except Exception as exc:
            self.device_errors[-1] = str(exc)
            return []
        for i in range(count):
            try:
                handle = nv.nvmlDeviceGetHandleByIndex(i)
                name = _text(nv.nvmlDeviceGetName(handle))
                uuid = _text(nv.nvmlDeviceGetUUID(handle))
            except Exception as exc:  # a GPU that fell off the bus: skip it, report why
                self.device_errors[i] = str(exc) or type(exc).__name__
                continue
            util = self._optional(nv.nvmlDeviceGetUtilizationRates, handle)
            mem = self._optional(nv.nvmlDeviceGetMemoryInfo, handle)
            power_mw = self._optional(nv.nvmlDeviceGetPowerUsage, handle)
            temp = self._optional(nv.nvmlDeviceGetTemperature, handle, NVML_TEMPERATURE_GPU)
            readings.append(GpuReading(
                index=i, uuid=uuid, name=name,
                util_pct=float(util.gpu) if util is not None else None,
                memory_used_bytes=int(mem.used) if mem is not None else None,
                memory_free_bytes=int(mem.free) if mem is not None else None,
                memory_total_bytes=int(mem.total) if mem is not None else None,
                power_w=power_mw / MILLIWATTS_PER_W if power_mw is not None else None,
                temp_c=float(temp) if temp is not None else None,
            ))
        return readings
