"""Traces: the canonical DemandSeries (regular steps, demand units per step) and loaders for the formats we know.

Formats (detected by the header / first line, never by file name):
- Azure LLM inference CSV: `TIMESTAMP,ContextTokens,GeneratedTokens` (wall clock, 100 ns digits).
- Mooncake JSONL: `{"timestamp": ms, "input_length": n, "output_length": n, ...}` per line.
- The project's request CSV: `timestamp,[service,]input_tokens,output_tokens` (timestamp s or ISO 8601).
- A demand series CSV: `timestamp,count` (count = demand units from that row to the next).
- Alibaba DLRM instances (`instance_sn,role,app_name,...,creation_time,deletion_time`): one service's live
  GPU instances (`service=` its app_name), 60 s steps by default (traces/_fleet.py).
- GPU use (`timestamp_anon,value,container_ip`): busy GPUs summed over containers (traces/_fleet.py).
- Alibaba PAI pod list (`openb_pod_list_*.csv`): hourly pods created, GPUs requested and GPUs held, per QoS
  class (`pai_hourly_series`, traces/_fleet.py).
Request traces are binned into requests per step (or tokens with `unit="tokens"`).
"""

from costplane.traces._fleet import dlrm_service_series, dlrm_services, gpu_use_series, pai_hourly_series, pod_gpus
from costplane.traces._loaders import detect_format, load_trace, read_requests
from costplane.traces._series import DEFAULT_STEP_S, DemandSeries, bin_arrivals, series_from_intervals

__all__ = [
    "DEFAULT_STEP_S",
    "DemandSeries",
    "bin_arrivals",
    "detect_format",
    "dlrm_service_series",
    "dlrm_services",
    "gpu_use_series",
    "load_trace",
    "pai_hourly_series",
    "pod_gpus",
    "read_requests",
    "series_from_intervals",
]
