"""`costplane ingest prometheus|focus|usage|kubernetes` (external sources -> store) and `costplane agent` (NVML exporter).

Exit codes: 0 success (also when some rows were rejected but others were good: the rejections are
printed as a warning); 1 when every row was rejected, or with --strict when any was (nothing
written then); 2 bad input (missing column, bad flag); 3 Prometheus unreachable after the retries.
"""

from __future__ import annotations

import tempfile
import threading
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from costplane.cli._common import CatalogOpt, JsonOpt, console, emit_json, err_console, money, stop_on_signals
from costplane.core.clock import WallClock
from costplane.core.errors import CostplaneError, InputError

DbOpt = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL (default: COSTPLANE_DB_URL or ~/.costplane SQLite).")]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Write nothing and exit 1 if any row is rejected.")]
ToleranceOpt = Annotated[float, typer.Option("--future-tolerance", help="Seconds a timestamp may lie in the future "
                                             "(clock skew) before its row is rejected.")]
MappingOpt = Annotated[Path | None, typer.Option("--mapping", help="YAML/JSON: labels/tags -> workload, team, "
                                                 "project (see docs/ingest.md).")]
MAX_REJECTIONS_SHOWN = 10

ingest_app = typer.Typer(help="Read Prometheus, FOCUS bills, usage CSV and Kubernetes objects into the store (idempotent).",
                         no_args_is_help=True)


def _print_report(report, as_json: bool, strict: bool) -> None:
    from costplane.ingest import rejection_error

    if as_json:
        emit_json(report.to_dict())
    else:
        console.print(f"{report.source}: {report.read} read, [bold]{report.ingested} ingested[/], "
                      f"{report.duplicates} duplicate(s) skipped, {report.rejected} rejected")
        for w in report.warnings:
            err_console.print(f"warning: {w}", highlight=False, markup=False)
    error = rejection_error(report, strict)
    if report.rejected and not as_json:
        for r in report.rejections[:MAX_REJECTIONS_SHOWN]:
            err_console.print(f"  rejected {r.describe()}", highlight=False, markup=False, soft_wrap=True)
        if report.rejected > MAX_REJECTIONS_SHOWN:
            err_console.print(f"  ... and {report.rejected - MAX_REJECTIONS_SHOWN} more (--json lists them)",
                              highlight=False)
    if error is not None:
        raise error
    if report.rejected:
        err_console.print(f"warning: {report.rejected} of {report.read} rows rejected, {report.ingested} ingested; "
                          "To fix: correct the named lines and ingest the file again (good rows are not duplicated)",
                          highlight=False, markup=False, soft_wrap=True)


@ingest_app.command("prometheus")
def prometheus_cmd(
    url: Annotated[str, typer.Option("--url", envvar="COSTPLANE_PROMETHEUS_URL",
                                     help="Prometheus server root, e.g. http://prometheus:9090.")],
    start: Annotated[str, typer.Option(help="Window start: ISO 8601, epoch s, or relative (-1h, -7d).")] = "-1h",
    end: Annotated[str, typer.Option(help="Window end: ISO 8601, epoch s, relative, or now.")] = "now",
    step: Annotated[float, typer.Option(help="Seconds between samples (range-query step).")] = 60.0,
    mapping: MappingOpt = None,
    requests_metric: Annotated[list[str] | None, typer.Option("--requests-metric", help="Request counter to rate() "
                               "(repeatable; default vllm:request_success_total and tgi_request_success).")] = None,
    queue_metric: Annotated[list[str] | None, typer.Option("--queue-metric", help="Waiting-queue gauge "
                            "(repeatable; default vllm:num_requests_waiting and tgi_queue_size).")] = None,
    latency_metric: Annotated[list[str] | None, typer.Option("--latency-metric", help="Latency histogram base name "
                              "(repeatable; default vllm:e2e_request_latency_seconds).")] = None,
    rate_window: Annotated[float | None, typer.Option("--rate-window", help="Seconds of the rate() window "
                           "(default max(60, step)).")] = None,
    retries: Annotated[int, typer.Option(help="Attempts per request on connection errors and 5xx.")] = 4,
    timeout: Annotated[float, typer.Option(help="Seconds per HTTP request.")] = 30.0,
    bearer_token: Annotated[str | None, typer.Option("--bearer-token", envvar="COSTPLANE_PROMETHEUS_TOKEN",
                                                     help="Send `Authorization: Bearer TOKEN` (or set "
                                                          "COSTPLANE_PROMETHEUS_TOKEN).", show_default=False)] = None,
    ca_bundle: Annotated[Path | None, typer.Option("--ca-bundle", envvar="COSTPLANE_CA_BUNDLE",
                                                   help="PEM CA bundle to verify Prometheus' TLS certificate "
                                                        "(default: the system's CAs; TLS is always verified).")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Query DCGM GPU metrics and serving metrics over a window and store them (all or nothing)."""
    from costplane.core.vocabulary import DEFAULT_QUEUE_GAUGES, DEFAULT_REQUEST_COUNTERS
    from costplane.ingest import (
        LabelMapping,
        PrometheusClient,
        dcgm_queries,
        ingest_prometheus,
        parse_time_arg,
        read_mapping_file,
        serving_queries,
    )

    now_s = WallClock().now_s()
    start_s, end_s = parse_time_arg(start, now_s, "--start"), parse_time_arg(end, now_s, "--end")
    spec = read_mapping_file(mapping) if mapping else {}
    label_map = LabelMapping.from_dict(spec, str(mapping)) if spec else LabelMapping()
    serving = spec.get("serving") or {}
    queries = dcgm_queries() + serving_queries(
        step, requests_metric or serving.get("requests") or DEFAULT_REQUEST_COUNTERS,
        latency_metric or serving.get("latency") or ("vllm:e2e_request_latency_seconds",),
        serving.get("quantiles") or (0.5, 0.95, 0.99), rate_window,
        queue_metric or serving.get("queue") or DEFAULT_QUEUE_GAUGES)
    if ca_bundle is not None and not ca_bundle.is_file():
        raise InputError(f"--ca-bundle {ca_bundle} does not exist", fix="pass a PEM file of CA certificates")
    with PrometheusClient(url, timeout_s=timeout, attempts=retries, bearer_token=bearer_token,
                          ca_bundle=str(ca_bundle) if ca_bundle else None) as client:
        with Progress(console=err_console, transient=True, disable=as_json) as progress:
            task = progress.add_task("querying Prometheus", total=len(queries))
            # _LazyOpen opens the store only after every query answered: an outage never touches the database.
            report = ingest_prometheus(client, _LazyOpen(db), start_s, end_s, step, queries, label_map,
                                       progress=lambda done, total: progress.update(task, completed=done))
    if as_json:
        emit_json(report.to_dict())
        return
    _print_report(report, False, False)
    table = Table(title=f"samples by metric ({report.details['series']} series, step {step:g} s)")
    table.add_column("metric")
    table.add_column("samples", justify="right")
    for metric, n in sorted(report.details["per_metric"].items()):
        table.add_row(metric, str(n))
    console.print(table)


@ingest_app.command("focus")
def focus_cmd(
    file: Annotated[Path, typer.Argument(help="FOCUS 1.0+ cost-and-usage CSV (.csv or .csv.gz).")],
    mapping: MappingOpt = None,
    catalog: CatalogOpt = None,
    strict: StrictOpt = False,
    future_tolerance: ToleranceOpt = 300.0,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Store a FOCUS bill as cost records; tags name team/project/workload; bad rows are named and skipped."""
    from costplane.ingest import TagMapping, ingest_focus, read_mapping_file

    spec = read_mapping_file(mapping) if mapping else {}
    tags = TagMapping.from_dict(spec.get("tags") or {}, str(mapping)) if spec else TagMapping()
    report = ingest_focus(file, _LazyOpen(db), WallClock().now_s(), tags, gpus_per_instance(catalog),
                          strict=strict, future_tolerance_s=future_tolerance)
    _print_report(report, as_json, strict)
    if not as_json:
        console.print(f"billed {money(report.details['billed_cost_usd'])}, "
                      f"{report.details['gpu_hours']:g} GPU-hours in the rows read")


@ingest_app.command("usage")
def usage_cmd(
    file: Annotated[Path, typer.Argument(help="Usage CSV: timestamp,workload,metric,value | timestamp,workload,"
                                              "gpu_util_pct | timestamp_anon,value,container_ip.")],
    metric: Annotated[str | None, typer.Option(help="Metric of a `value` column (default: from the file name).")] = None,
    source: Annotated[str, typer.Option(help="Source name stored with the samples.")] = "usage_csv",
    strict: StrictOpt = False,
    future_tolerance: ToleranceOpt = 300.0,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Store usage samples from CSV; duplicates stored once, future timestamps (clock skew) rejected."""
    from costplane.ingest import ingest_usage

    report = ingest_usage(file, _LazyOpen(db), WallClock().now_s(), metric, source, strict, future_tolerance)
    _print_report(report, as_json, strict)


@ingest_app.command("kubernetes")
def kubernetes_cmd(
    kubeconfig: Annotated[Path | None, typer.Option(help="kubeconfig file (default: in-cluster config, then "
                                                         "KUBECONFIG or ~/.kube/config).")] = None,
    context: Annotated[str | None, typer.Option(help="kubeconfig context (default: its current context).")] = None,
    cluster: Annotated[str | None, typer.Option(help="Cluster name stored with the workloads (default: the "
                                                     "context's name).")] = None,
    team_label: Annotated[list[str] | None, typer.Option(
        "--team-label", help="Pod/namespace label naming the team, tried in order (repeatable; default: team, "
                             "costplane.io/team).")] = None,
    project_label: Annotated[list[str] | None, typer.Option(
        "--project-label", help="Pod/namespace label naming the project (repeatable; default: project).")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Store the cluster's workloads (pod owners, namespaces, labels) and nodes (instance type, region, spot)."""
    from costplane.ingest._kubernetes import (
        DEFAULT_PROJECT_LABELS,
        DEFAULT_TEAM_LABELS,
        collect_kubernetes,
        ingest_kubernetes,
        kube_client,
    )
    from costplane.store import Store

    api, context_name = kube_client(str(kubeconfig) if kubeconfig else None, context)
    with api:
        inventory = collect_kubernetes(api, cluster or context_name, tuple(team_label or DEFAULT_TEAM_LABELS),
                                       tuple(project_label or DEFAULT_PROJECT_LABELS))
    store = Store.open(db)
    ingest_kubernetes(store, inventory)
    if as_json:
        emit_json(inventory.to_dict())
        return
    summary = inventory.to_dict()
    console.print(f"cluster {inventory.cluster}: {inventory.pods} pods -> {len(inventory.workloads)} workloads "
                  f"{summary['by_kind']}, {len(inventory.nodes)} nodes {summary['capacity_types']}; stored in {store.url}")
    for w in inventory.warnings:
        err_console.print(f"warning: {w}", highlight=False, markup=False, soft_wrap=True)


class _LazyOpen:
    """Opens (and migrates) the store only when there is something to write, so bad files never create a DB."""

    def __init__(self, url: str | None) -> None:
        self.url = url

    def add_usage_samples(self, rows):
        from costplane.store import Store

        return Store.open(self.url).add_usage_samples(rows)

    def add_cost_records(self, rows):
        from costplane.store import Store

        return Store.open(self.url).add_cost_records(rows)


def gpus_per_instance(catalog: Path | None) -> dict[str, int]:
    """instance type -> GPUs per instance, from the catalog (to turn instance-hours into GPU-hours)."""
    from costplane.catalog import load_catalog

    out: dict[str, int] = {}
    for o in load_catalog(catalog).offers:
        if o.gpus and o.instance_type.lower() not in out:
            out[o.instance_type.lower()] = int(o.gpus)
    return out


def agent_cmd(
    host: Annotated[str, typer.Option(help="Address to serve /metrics on (default loopback only; pass --host 0.0.0.0 "
                                       "for every interface, e.g. for a Prometheus on another node).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for /metrics (9400 like dcgm-exporter).")] = 9400,
    once: Annotated[bool, typer.Option("--once", help="Print one snapshot of all GPUs and exit.")] = False,
    push: Annotated[bool, typer.Option("--push", help="Also write samples to the store (every --interval).")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between pushes to the store.")] = 15.0,
    hostname: Annotated[str | None, typer.Option(help="Hostname label (default: this machine's).")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """NVML node agent: GPU utilisation, memory and power under DCGM metric names on /metrics."""
    from costplane.agent import GpuAgent

    clock = WallClock()
    agent = GpuAgent(hostname=hostname)
    err_console.print(agent.status_line(), highlight=False, markup=False, soft_wrap=True)
    store = _LazyOpen(db) if push else None
    if once:
        snap = agent.snapshot(clock.now_s())
        if store is not None:
            snap["pushed"] = agent.push(store, snap["ts_s"])
        if as_json:
            emit_json(snap)
            return
        _print_snapshot(snap)
        return
    stop = threading.Event()
    stop_on_signals(stop)  # before /metrics answers: a signal from then on ends the loop cleanly
    agent.serve(host, port)
    err_console.print(f"serving DCGM-format metrics on http://{host}:{port}/metrics (Ctrl-C or SIGTERM stops)",
                      highlight=False, markup=False)
    next_s = clock.now_s()
    while not stop.is_set():
        if store is not None:
            try:
                agent.push(store, clock.now_s())
            except CostplaneError as exc:  # a database outage must not stop /metrics: warn, retry next tick
                err_console.print(f"warning: push failed: {exc.one_line()}", highlight=False, markup=False)
        next_s += interval
        stop.wait(max(0.0, next_s - clock.now_s()))  # a signal ends the wait at once
    err_console.print("agent stopped", highlight=False)


def _print_snapshot(snap: dict) -> None:
    if not snap["gpus"]:
        console.print(f"0 GPUs on {snap['hostname']} (NVML: {snap['nvml']['reason']})", highlight=False)
        return
    table = Table(title=f"GPUs on {snap['hostname']} (NVML {snap['nvml']['reason']})")
    for col in ("gpu", "model", "util %", "mem used GiB", "mem total GiB", "power W", "temp C"):
        table.add_column(col, justify="left" if col == "model" else "right")
    gib = 1024 ** 3
    for g in snap["gpus"]:
        fmt = lambda v, scale=1.0: "-" if v is None else f"{v / scale:.1f}"  # noqa: E731
        table.add_row(str(g["index"]), g["name"], fmt(g["util_pct"]), fmt(g["memory_used_bytes"], gib),
                      fmt(g["memory_total_bytes"], gib), fmt(g["power_w"]), fmt(g["temp_c"]))
    console.print(table)


def demo_ingest() -> None:
    """Ingest the bundled FOCUS sample twice into a throwaway SQLite store: counts, then nothing added twice."""
    from costplane.ingest import ingest_focus
    from costplane.store import Store

    sample = Path(str(resources.files("costplane.ingest") / "data" / "focus_sample.csv"))
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{tmp}/demo.db")
        now_s = WallClock().now_s()
        first = ingest_focus(sample, store, now_s, gpus_per_instance=gpus_per_instance(None))
        again = ingest_focus(sample, store, now_s, gpus_per_instance=gpus_per_instance(None))
        console.print(f"FOCUS sample: {first.read} lines, {first.ingested} stored, billed "
                      f"{money(first.details['billed_cost_usd'])}, {first.details['gpu_hours']:g} GPU-hours; "
                      f"ingested again: {again.ingested} added, {again.duplicates} duplicates skipped")
        store.engine.dispose()


def register(app: typer.Typer) -> None:
    app.add_typer(ingest_app, name="ingest")
    app.command("agent")(agent_cmd)
