"""NVML agent: the no-GPU state on this machine (real process, real HTTP), and the NVML -> DCGM mapping with a fake NVML."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from types import SimpleNamespace

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from costplane.agent import GpuAgent, NvmlReader
from costplane.store import Store, UsageSample

GIB = 1024 ** 3
MIB = 1024 ** 2


class FakeNvmlError(Exception):
    pass


class FakeNvml:
    """The pynvml functions the agent calls, over two made-up GPUs; GPU 1 does not report power (NotSupported)."""

    def __init__(self, init_error: str | None = None) -> None:
        self.init_error = init_error
        self.gpus = [
            dict(name=b"NVIDIA H100 80GB HBM3", uuid="GPU-11111111-aaaa", util=87, used=60 * GIB, free=20 * GIB,
                 total=80 * GIB, power_mw=612_345, temp=71),
            dict(name="NVIDIA L4", uuid="GPU-22222222-bbbb", util=0, used=0, free=24 * GIB, total=24 * GIB,
                 power_mw=None, temp=34),
        ]

    def nvmlInit(self):  # noqa: N802
        if self.init_error:
            raise FakeNvmlError(self.init_error)

    def nvmlSystemGetDriverVersion(self):  # noqa: N802
        return "550.54.15"

    def nvmlDeviceGetCount(self):  # noqa: N802
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, i):  # noqa: N802
        return self.gpus[i]

    def nvmlDeviceGetName(self, h):  # noqa: N802
        return h["name"]

    def nvmlDeviceGetUUID(self, h):  # noqa: N802
        return h["uuid"]

    def nvmlDeviceGetUtilizationRates(self, h):  # noqa: N802
        return SimpleNamespace(gpu=h["util"], memory=0)

    def nvmlDeviceGetMemoryInfo(self, h):  # noqa: N802
        return SimpleNamespace(used=h["used"], free=h["free"], total=h["total"])

    def nvmlDeviceGetPowerUsage(self, h):  # noqa: N802
        if h["power_mw"] is None:
            raise FakeNvmlError("Not Supported")
        return h["power_mw"]

    def nvmlDeviceGetTemperature(self, h, sensor):  # noqa: N802
        return h["temp"]


def _families(agent: GpuAgent) -> dict[str, list]:
    text = generate_latest(agent.registry).decode()
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def test_nvml_readings_map_to_dcgm_metrics():
    agent = GpuAgent(NvmlReader(FakeNvml()), hostname="node-7")
    fams = _families(agent)
    util = {s.labels["gpu"]: s for s in fams["DCGM_FI_DEV_GPU_UTIL"]}
    assert util["0"].value == 87 and util["1"].value == 0
    assert util["0"].labels == {"gpu": "0", "UUID": "GPU-11111111-aaaa", "device": "nvidia0",
                                "modelName": "NVIDIA H100 80GB HBM3", "Hostname": "node-7",
                                "DCGM_FI_DRIVER_VERSION": "550.54.15"}
    assert {s.labels["gpu"]: s.value for s in fams["DCGM_FI_DEV_FB_USED"]} == {"0": 61440.0, "1": 0.0}  # MiB
    assert {s.labels["gpu"]: s.value for s in fams["DCGM_FI_DEV_FB_FREE"]} == {"0": 20480.0, "1": 24576.0}
    assert {s.labels["gpu"]: s.value for s in fams["DCGM_FI_DEV_POWER_USAGE"]} == {"0": 612.345}  # mW -> W; L4 none
    assert {s.labels["gpu"]: s.value for s in fams["DCGM_FI_DEV_GPU_TEMP"]} == {"0": 71.0, "1": 34.0}
    assert fams["costplane_agent_gpus"][0].value == 2
    assert fams["costplane_agent_info"][0].labels["nvml"] == "ok"
    assert agent.status_line() == "NVML ok (driver 550.54.15): exporting 2 GPU(s)"


def test_agent_pushes_the_same_readings_to_the_store(db_url):
    agent = GpuAgent(NvmlReader(FakeNvml()), hostname="node-7")
    store = Store.open(db_url)
    assert agent.push(store, 1_000.0) == 9  # 5 fields on the H100, 4 on the L4 (no power)
    assert agent.push(store, 1_000.0) == 0  # same timestamp: idempotent
    assert agent.push(store, 1_015.0) == 9
    rows = {(r["metric"], r["labels"]["gpu"]): r["value"] for r in agent.samples(1_000.0)}
    assert rows[("gpu_memory_used_bytes", "0")] == 60 * GIB and rows[("gpu_power_w", "0")] == 612.345
    assert rows[("gpu_util_pct", "0")] == 87.0
    assert store.count(UsageSample) == 18


def test_init_failure_is_a_state_not_a_crash():
    agent = GpuAgent(NvmlReader(FakeNvml(init_error="Driver Not Loaded")), hostname="h")
    assert agent.status_line() == "no NVIDIA driver found (NVML: Driver Not Loaded): exporting 0 GPUs"
    snap = agent.snapshot(5.0)
    assert snap["gpus"] == [] and snap["nvml"] == {"available": False, "reason": "Driver Not Loaded",
                                                   "driver_version": None}
    fams = _families(agent)
    assert fams["DCGM_FI_DEV_GPU_UTIL"] == [] and fams["costplane_agent_gpus"][0].value == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _has_nvidia_driver() -> bool:
    return NvmlReader().status().available


def test_agent_process_without_gpu_serves_metrics():
    if _has_nvidia_driver():
        pytest.skip("this machine has an NVIDIA driver: the no-GPU state cannot be observed here")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "costplane.agent", "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "200"})
    try:
        deadline = time.time() + 30
        text = None
        while time.time() < deadline and text is None:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.HTTPError:
                assert proc.poll() is None, proc.stderr.read()
                time.sleep(0.2)
        assert text is not None, "agent never served /metrics"
        fams = {f.name: f.samples for f in text_string_to_metric_families(text)}
        assert fams["costplane_agent_gpus"][0].value == 0
        info = fams["costplane_agent_info"][0].labels
        assert info["nvml"] == "unavailable" and info["reason"]
        assert fams["DCGM_FI_DEV_GPU_UTIL"] == []
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    first = err.strip().splitlines()[0]
    assert first.startswith("no NVIDIA driver found (NVML: ") and first.endswith("): exporting 0 GPUs")
    assert "Traceback" not in err


def test_agent_once_json_without_gpu():
    if _has_nvidia_driver():
        pytest.skip("this machine has an NVIDIA driver")
    out = subprocess.run([sys.executable, "-m", "costplane.agent", "--once", "--json"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    snap = json.loads(out.stdout)
    assert snap["gpus"] == [] and snap["nvml"]["available"] is False and snap["hostname"]
    assert len(out.stderr.strip().splitlines()) == 1 and "exporting 0 GPUs" in out.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_agent_stops_on_sigterm_and_on_sigint_even_when_started_with_sigint_ignored(sig):
    """A non-interactive shell's background job inherits SIGINT ignored; Kubernetes stops a pod with SIGTERM.

    Either signal ends the loop at once (not after the push interval) with exit status 0."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "costplane.agent", "--host", "127.0.0.1", "--port", str(port),
                             "--interval", "3600"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
                break
            except httpx.HTTPError:
                assert proc.poll() is None, proc.stderr.read()
                time.sleep(0.2)
        else:
            pytest.fail("agent never served /metrics within 30 s")
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert err.strip().splitlines()[-1] == "agent stopped" and "Traceback" not in err
