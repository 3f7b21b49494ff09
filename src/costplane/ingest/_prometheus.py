"""Prometheus adapter: range queries over the HTTP API (`/api/v1/query_range`) into UsageSample rows.

Contract:
- The window is aligned to the step (start rounded up, end down to a multiple of `step_s`), so
  re-ingesting an overlapping window asks for the same timestamps and the store's natural key
  (source, metric, series_key, ts_s) skips what is already there.
- Long windows are cut into chunks of at most `max_points` evaluations per series (Prometheus
  refuses more than 11 000 points per series per query); chunk k covers
  [start + k·n·step, start + ((k+1)·n − 1)·step], so no timestamp is asked twice.
- Connection errors, 429 and 5xx are retried with exponential backoff and full jitter
  (delay_k = U(0, min(cap, base·2^k))); 4xx is a bad query and is not retried.
- Every chunk of every query is collected before anything is written, then one transaction
  writes them all: a failure half-way leaves the store as it was.
"""

from __future__ import annotations

import hashlib
import math
import random
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from costplane.core.errors import CostplaneError, InputError
from costplane.core.vocabulary import DEFAULT_QUEUE_GAUGES, DEFAULT_REQUEST_COUNTERS, QUEUE_WAITING, REQUESTS_PER_S
from costplane.ingest._errors import SourceUnreachableError
from costplane.ingest._mapping import LabelMapping
from costplane.ingest._metrics import DCGM_FIELDS, latency_metric
from costplane.ingest._report import IngestReport

SOURCE = "prometheus"
MAX_POINTS_PER_QUERY = 10_000  # Prometheus rejects > 11 000 points per series per range query
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_ATTEMPTS = 4
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0
MIN_RATE_WINDOW_S = 60  # rate() needs >= 2 scrapes in its window; 1 min covers scrape intervals up to 30 s
SERIES_KEY_MAX = 512  # usage_samples.series_key column width
DEFAULT_LATENCY_HISTOGRAMS = ("vllm:e2e_request_latency_seconds",)
DEFAULT_QUANTILES = (0.5, 0.95, 0.99)


@dataclass(frozen=True)
class PromQuery:
    """One PromQL expression, the stored metric it feeds, and the factor from its unit to the stored unit."""

    name: str  # stable id used in series keys (the DCGM field or counter name)
    promql: str
    metric: str
    scale: float = 1.0


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    points: list[tuple[float, float]]


def dcgm_queries() -> list[PromQuery]:
    """The DCGM exporter gauges, queried as DCGM names them (labels gpu, UUID, modelName, Hostname, pod, ...)."""
    return [PromQuery(f.dcgm_name, f.dcgm_name, f.metric, f.to_stored) for f in DCGM_FIELDS]


def serving_queries(step_s: float, request_counters: Sequence[str] = DEFAULT_REQUEST_COUNTERS,
                    latency_histograms: Sequence[str] = DEFAULT_LATENCY_HISTOGRAMS,
                    quantiles: Sequence[float] = DEFAULT_QUANTILES,
                    rate_window_s: float | None = None,
                    queue_gauges: Sequence[str] = DEFAULT_QUEUE_GAUGES) -> list[PromQuery]:
    """Request rate (`rate(x[w])`), waiting queue (gauges as they are) and latency quantiles
    (`histogram_quantile(q, rate(x_bucket[w]))`), under the stored names of costplane.core.vocabulary.
    A server that does not export a name answers with no series, so vLLM's and TGI's names are both asked.

    w defaults to max(60 s, step): a window shorter than the step would skip the requests between
    two steps. rate() divides by the whole window, so the first w seconds of a new series read low.
    """
    w = rate_window_s if rate_window_s is not None else max(MIN_RATE_WINDOW_S, step_s)
    if w <= 0:
        raise InputError(f"rate window must be > 0 s, got {w:g}", fix="use --rate-window 60")
    window = f"{int(math.ceil(w))}s"
    queries = []
    for counter in request_counters:
        queries.append(PromQuery(counter, f"rate({counter}[{window}])", REQUESTS_PER_S))
    for gauge in queue_gauges:
        queries.append(PromQuery(gauge, gauge, QUEUE_WAITING))
    for hist in latency_histograms:
        base = hist.removesuffix("_bucket")
        for q in quantiles:
            if not 0 < q < 1:
                raise InputError(f"quantile {q} is outside (0, 1)", fix="use quantiles like 0.5, 0.95, 0.99")
            queries.append(PromQuery(f"{base}:p{q * 100:.10g}",
                                     f"histogram_quantile({q:g}, rate({base}_bucket[{window}]))",
                                     latency_metric(q)))
    return queries


def aligned_window(start_s: float, end_s: float, step_s: float) -> tuple[float, float]:
    return math.ceil(start_s / step_s) * step_s, math.floor(end_s / step_s) * step_s


def chunk_window(start_s: float, end_s: float, step_s: float, max_points: int) -> list[tuple[float, float]]:
    """Non-overlapping [a, b] sub-windows with at most max_points evaluations each, covering start..end."""
    if end_s < start_s:
        return []
    chunks = []
    span = (max_points - 1) * step_s
    a = start_s
    while a <= end_s:
        b = min(a + span, end_s)
        chunks.append((a, b))
        a = b + step_s
    return chunks


class PrometheusClient:
    """Range queries against one Prometheus server, with retries; `sleep` and `rng` are injectable for tests."""

    def __init__(self, url: str, timeout_s: float = DEFAULT_TIMEOUT_S, attempts: int = DEFAULT_ATTEMPTS,
                 backoff_base_s: float = BACKOFF_BASE_S, backoff_cap_s: float = BACKOFF_CAP_S,
                 max_points: int = MAX_POINTS_PER_QUERY, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None, headers: Mapping[str, str] | None = None,
                 bearer_token: str | None = None, ca_bundle: str | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise InputError(f"Prometheus URL {url!r} has no http:// or https:// scheme",
                             fix="pass e.g. --url http://prometheus:9090")
        if attempts < 1:
            raise InputError(f"retry attempts must be >= 1, got {attempts}", fix="use --retries 1 or more")
        self.url = url.rstrip("/")
        self.attempts = attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.max_points = max_points
        self._sleep = sleep
        self._rng = rng or random.Random()
        headers = dict(headers or {})
        if bearer_token:
            headers["Authorization"] = f"Bearer {bearer_token}"
        # TLS is always verified: against `ca_bundle` (a PEM file) when given, else the system's CAs.
        try:
            verify = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else True
        except (OSError, ssl.SSLError):
            raise InputError(f"CA bundle {ca_bundle} cannot be read as PEM certificates",
                             fix="pass a PEM file of CA certificates to --ca-bundle") from None
        self._http = httpx.Client(timeout=timeout_s, headers=headers, verify=verify)
        self.requests_made = 0

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def backoff_s(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base·2^attempt)] (attempt 0 = first retry)."""
        return self._rng.uniform(0.0, min(self.backoff_cap_s, self.backoff_base_s * 2 ** attempt))

    def query_range(self, promql: str, start_s: float, end_s: float, step_s: float) -> tuple[list[Series], list[str]]:
        """All series of `promql` over [start, end] (already aligned), merged over chunks; plus server warnings."""
        merged: dict[tuple, Series] = {}
        warnings: list[str] = []
        for a, b in chunk_window(start_s, end_s, step_s, self.max_points):
            data = self._get("/api/v1/query_range", {"query": promql, "start": _num(a), "end": _num(b),
                                                     "step": _num(step_s)}, promql)
            warnings.extend(data.get("warnings") or [])
            result = data.get("data", {})
            if result.get("resultType") != "matrix":
                raise InputError(f"Prometheus returned {result.get('resultType')!r} for `{promql}`, not a matrix",
                                 fix="use an expression that yields instant vectors (a range query evaluates it per step)")
            for item in result.get("result", []):
                labels = {k: str(v) for k, v in item.get("metric", {}).items()}
                key = tuple(sorted(labels.items()))
                series = merged.setdefault(key, Series(labels, []))
                series.points.extend((float(t), _value(v)) for t, v in item.get("values", []))
        return list(merged.values()), warnings

    def _get(self, path: str, params: dict[str, str], promql: str) -> dict[str, Any]:
        last_problem = ""
        started = time.monotonic()
        for attempt in range(self.attempts):
            if attempt:
                self._sleep(self.backoff_s(attempt - 1))
            self.requests_made += 1
            try:
                resp = self._http.get(self.url + path, params=params)
            except httpx.TransportError as exc:
                last_problem = f"{type(exc).__name__}: {str(exc) or 'no answer'}"
                continue
            if resp.status_code == 429 or resp.status_code >= 500:
                last_problem = f"HTTP {resp.status_code}: {_error_text(resp)}"
                continue
            if resp.status_code >= 400:
                raise InputError(f"Prometheus at {self.url} rejected `{promql}` (HTTP {resp.status_code}): "
                                 f"{_error_text(resp)}", fix="check the PromQL and the metric names in --mapping")
            try:
                body = resp.json()
            except ValueError:
                raise CostplaneError(f"{self.url}{path} answered HTTP {resp.status_code} with non-JSON text, "
                                     "so it is not a Prometheus API", fix="point --url at the Prometheus server root, "
                                     "e.g. http://prometheus:9090") from None
            if body.get("status") != "success":
                raise InputError(f"Prometheus at {self.url} failed `{promql}`: {body.get('error', body)}",
                                 fix="check the PromQL and the metric names in --mapping")
            return body
        elapsed = time.monotonic() - started
        raise SourceUnreachableError(
            f"Prometheus at {self.url} is unreachable after {self.attempts} attempt(s) over {elapsed:.1f} s "
            f"({last_problem}); nothing was written",
            fix=f"check --url and that Prometheus is up (curl {self.url}/-/ready), then run the same command again")


def _num(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".")


def _value(v: str) -> float:
    return float(v)  # Prometheus sends "NaN", "+Inf", "-Inf" as strings; float() reads them all


def _error_text(resp: httpx.Response) -> str:
    try:
        body = resp.json()
        return str(body.get("error") or body)[:300]
    except ValueError:
        return " ".join(resp.text.split())[:300] or resp.reason_phrase


def series_key(query_name: str, labels: Mapping[str, str]) -> str:
    """`DCGM_FI_DEV_GPU_UTIL{Hostname="n1",UUID="GPU-1",gpu="0"}`; over-long keys keep the name and a digest."""
    body = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    key = f"{query_name}{{{body}}}"
    if len(key) <= SERIES_KEY_MAX:
        return key
    digest = hashlib.sha256(body.encode()).hexdigest()[:32]
    return f"{query_name[:SERIES_KEY_MAX - 48]}{{sha256:{digest}}}"


@dataclass
class CollectResult:
    rows: list[dict[str, Any]] = field(default_factory=list)
    series: int = 0
    non_finite_skipped: int = 0
    warnings: list[str] = field(default_factory=list)
    per_metric: dict[str, int] = field(default_factory=dict)


def collect_samples(client: PrometheusClient, queries: Sequence[PromQuery], start_s: float, end_s: float,
                    step_s: float, mapping: LabelMapping | None = None,
                    progress: Callable[[int, int], None] | None = None) -> CollectResult:
    """Query everything (no writes): rows ready for `Store.add_usage_samples`, NaN/Inf samples dropped."""
    if step_s <= 0:
        raise InputError(f"--step must be > 0 seconds, got {step_s:g}", fix="use e.g. --step 60")
    mapping = mapping or LabelMapping()
    start_s, end_s = aligned_window(start_s, end_s, step_s)
    if end_s < start_s:
        raise InputError("the window holds no step: start is after end once aligned to the step",
                         fix="use --start before --end by at least one --step")
    out = CollectResult()
    for i, q in enumerate(queries):
        series_list, warnings = client.query_range(q.promql, start_s, end_s, step_s)
        out.warnings.extend(f"{q.name}: {w}" for w in warnings)
        for s in series_list:
            out.series += 1
            workload, team, project = mapping.attribute(s.labels)
            key = series_key(q.name, s.labels)
            labels = {k: v for k, v in s.labels.items() if k != "__name__"}
            for ts, value in s.points:
                if not math.isfinite(value) or value < 0:  # NaN: an empty histogram_quantile; < 0: impossible
                    out.non_finite_skipped += 1
                    continue
                out.rows.append({"source": SOURCE, "metric": q.metric, "series_key": key, "ts_s": ts,
                                 "value": value * q.scale, "workload": workload, "team": team,
                                 "project": project, "labels": labels})
                out.per_metric[q.metric] = out.per_metric.get(q.metric, 0) + 1
        if progress:
            progress(i + 1, len(queries))
    return out


def ingest_prometheus(client: PrometheusClient, store, start_s: float, end_s: float, step_s: float,
                      queries: Sequence[PromQuery] | None = None, mapping: LabelMapping | None = None,
                      progress: Callable[[int, int], None] | None = None) -> IngestReport:
    """Collect every chunk of every query, then write them in one transaction (all or nothing)."""
    queries = list(queries) if queries is not None else dcgm_queries() + serving_queries(step_s)
    collected = collect_samples(client, queries, start_s, end_s, step_s, mapping, progress)
    added = store.add_usage_samples(collected.rows) if collected.rows else 0
    a, b = aligned_window(start_s, end_s, step_s)
    report = IngestReport(source=f"{SOURCE} {client.url}", kind="usage_samples", read=len(collected.rows),
                          ingested=added, duplicates=len(collected.rows) - added, warnings=collected.warnings)
    report.details.update({"window": {"start_s": a, "end_s": b, "step_s": step_s}, "series": collected.series,
                           "requests": client.requests_made, "non_finite_skipped": collected.non_finite_skipped,
                           "per_metric": collected.per_metric})
    return report
