"""The stored metric vocabulary: one name and one unit per quantity, written by every ingest path and read by
the controller, cost, waste and budgets (docs/measure.md lists the same table).

| name                    | unit                        | written from                                          |
|-------------------------|-----------------------------|-------------------------------------------------------|
| `requests_per_s`        | demand units per second     | rate() of serving counters (vLLM `vllm:request_success_total`, TGI `tgi_request_count`) |
| `queue_waiting`         | demand units waiting        | serving gauges (vLLM `vllm:num_requests_waiting`, TGI `tgi_queue_size`) |
| `gpu_util_pct`          | percent 0..100              | DCGM `DCGM_FI_DEV_GPU_UTIL`, usage CSV                 |
| `gpu_memory_used_bytes` | bytes                       | DCGM `DCGM_FI_DEV_FB_USED` (MiB x 2**20)               |
| `gpu_memory_free_bytes` | bytes                       | DCGM `DCGM_FI_DEV_FB_FREE`                             |
| `gpu_power_w`           | watts                       | DCGM `DCGM_FI_DEV_POWER_USAGE`                         |
| `gpu_temp_c`            | degrees Celsius             | DCGM `DCGM_FI_DEV_GPU_TEMP`                            |
| `gpu_engine_active_pct` | percent 0..100              | DCGM `DCGM_FI_PROF_GR_ENGINE_ACTIVE` (ratio x 100)     |
| `latency_p<q>_s`        | seconds                     | histogram_quantile over serving latency histograms     |

A service's demand is the sum of `requests_per_s` over every series whose workload is the service's name
(one series per replica), and its queue the sum of `queue_waiting`, both at one timestamp.
"""

from __future__ import annotations

REQUESTS_PER_S = "requests_per_s"
QUEUE_WAITING = "queue_waiting"
GPU_UTIL_PCT = "gpu_util_pct"
GPU_MEMORY_USED_BYTES = "gpu_memory_used_bytes"
GPU_MEMORY_FREE_BYTES = "gpu_memory_free_bytes"
GPU_POWER_W = "gpu_power_w"
GPU_TEMP_C = "gpu_temp_c"
GPU_ENGINE_ACTIVE_PCT = "gpu_engine_active_pct"

# Serving metrics read by default: vLLM's names first, then Hugging Face TGI's.
DEFAULT_REQUEST_COUNTERS = ("vllm:request_success_total", "tgi_request_success")
DEFAULT_QUEUE_GAUGES = ("vllm:num_requests_waiting", "tgi_queue_size")


def latency_metric(quantile: float) -> str:
    """`latency_p95_s` for 0.95; `latency_p99.9_s` for 0.999."""
    pct = f"{quantile * 100:.10g}"
    return f"latency_p{pct}_s"
