"""Ingest adapters: read external sources (Prometheus, FOCUS bills, usage CSV) and write the store, idempotently.

Each source has a pure-ish `parse_*`/`collect_*` step that only reads, and an `ingest_*` step that
writes everything it read in one transaction; re-ingesting the same window or file adds nothing
twice (the store skips rows whose natural key it already holds). Stored metric names and units
are in `costplane.ingest._metrics` (re-exported here).
"""

from costplane.core.times import parse_time_arg, parse_timestamp
from costplane.ingest._errors import RowsRejectedError, SourceUnreachableError
from costplane.ingest._focus import cloud_from_provider, ingest_focus, parse_focus
from costplane.ingest._mapping import LabelMapping, TagMapping, read_mapping_file, workload_from_pod
from costplane.ingest._metrics import (
    DCGM_FIELDS,
    GPU_ENGINE_ACTIVE_PCT,
    GPU_MEMORY_FREE_BYTES,
    GPU_MEMORY_USED_BYTES,
    GPU_POWER_W,
    GPU_TEMP_C,
    GPU_UTIL_PCT,
    REQUESTS_PER_S,
    latency_metric,
)
from costplane.ingest._prometheus import (
    PrometheusClient,
    PromQuery,
    aligned_window,
    chunk_window,
    collect_samples,
    dcgm_queries,
    ingest_prometheus,
    serving_queries,
)
from costplane.ingest._report import IngestReport, Rejection, rejection_error
from costplane.ingest._usage import ingest_usage, parse_usage

__all__ = [
    "DCGM_FIELDS", "GPU_ENGINE_ACTIVE_PCT", "GPU_MEMORY_FREE_BYTES", "GPU_MEMORY_USED_BYTES", "GPU_POWER_W",
    "GPU_TEMP_C", "GPU_UTIL_PCT", "REQUESTS_PER_S", "IngestReport", "LabelMapping", "PromQuery",
    "PrometheusClient", "Rejection", "RowsRejectedError", "SourceUnreachableError", "TagMapping",
    "aligned_window", "chunk_window", "cloud_from_provider", "collect_samples", "dcgm_queries",
    "ingest_focus", "ingest_prometheus", "ingest_usage", "latency_metric", "parse_focus", "parse_time_arg",
    "parse_timestamp", "parse_usage", "read_mapping_file", "rejection_error", "serving_queries",
    "workload_from_pod",
]
