"""`costplane replay-jobs`: replay a GPU job trace under a scheduling policy (or all, with --compare)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress
from rich.table import Table

from costplane.catalog import load_catalog
from costplane.cli._common import CatalogOpt, Finite, JsonOpt, console, emit_json, err_console, money
from costplane.core.errors import InputError
from costplane.core.files import read_structured
from costplane.core.types import Catalog
from costplane.replay.jobs import ClusterSpec, JobReplayResult, replay_jobs
from costplane.replay.jobs_traces import (
    elastic_offers,
    fixed_cluster,
    parse_price_as,
    read_job_trace,
    read_node_list,
    resample_jobs,
    sized_cluster,
)
from costplane.schedule import ELASTIC_POLICIES, POLICIES, JobSet, SchedConfig, TeamQuota

SAMPLE_TRACE = "alibaba_gpu_jobs_sample.csv"


def read_quotas(path: Path) -> dict[str, TeamQuota]:
    """YAML/JSON `{teams: {NAME: {guaranteed_gpus: G, max_gpus: M}}}` (max defaults to guaranteed)."""
    data = read_structured(path, "quota file", fix="pass --quotas with an existing YAML file") or {}
    teams = data.get("teams") if isinstance(data, dict) else None
    if not isinstance(teams, dict) or not teams:
        raise InputError(f"{path}: no `teams:` mapping", fix="write teams: {ml: {guaranteed_gpus: 8, max_gpus: 16}}")
    out = {}
    for name, q in teams.items():
        try:
            g = float(q.get("guaranteed_gpus", 0))
            m = float(q.get("max_gpus", g))
        except (AttributeError, TypeError, ValueError) as exc:
            raise InputError(f"{path}: team {name!r} quota is not numbers",
                             fix="give guaranteed_gpus and max_gpus as numbers") from exc
        if g < 0 or m < g:
            raise InputError(f"{path}: team {name!r} has guaranteed_gpus {g:g} and max_gpus {m:g}",
                             fix="use 0 <= guaranteed_gpus <= max_gpus")
        out[str(name)] = TeamQuota(str(name), g, m)
    return out


def build_cluster(jobset: JobSet, catalog: Catalog, price_as: dict[str, str], capacity: int | None,
                  nodes: Path | None) -> ClusterSpec:
    if capacity is not None and nodes is not None:
        raise InputError("--capacity and --nodes both given", fix="pass one of them")
    if capacity is not None and capacity <= 0:
        raise InputError(f"--capacity must be > 0 GPUs, got {capacity}", fix="pass a positive GPU count")
    if nodes is not None:
        return fixed_cluster(read_node_list(nodes), catalog, price_as, f"node list {nodes.name}")
    return sized_cluster(jobset.jobs, catalog, price_as, capacity)


def run_policy(name: str, jobset: JobSet, fixed: ClusterSpec, catalog: Catalog, price_as: dict[str, str],
               cfg: SchedConfig, quotas: dict[str, TeamQuota], keep_base: bool, seed: int,
               record: bool = False, on_progress: Callable[[int, int], None] | None = None) -> JobReplayResult:
    """Fixed-cluster policies run on `fixed`; elastic ones buy the same GPU models from the catalog
    (starting from nothing, or from `fixed` as an always-on base with `keep_base`)."""
    cluster = fixed
    if name in ELASTIC_POLICIES:
        offers = elastic_offers({n.gpu for n in fixed.nodes}, catalog, price_as, spot=cfg.allow_spot)
        cluster = ClusterSpec(fixed.nodes if keep_base else (), offers, label="elastic")
    return replay_jobs(jobset.jobs, name, cluster, cfg, quotas, seed=seed, record_timeline=record,
                       on_progress=on_progress)


def result_dict(result: JobReplayResult, jobset: JobSet, cluster: ClusterSpec) -> dict[str, Any]:
    out = result.to_dict()
    out["cluster"] = cluster.label
    out["trace"] = jobset.summary()
    return out


def plot_compare(results: list[JobReplayResult], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for r in results:
        if r.jct_s.size:
            x = np.sort(r.jct_s) / 3600.0
            ax1.plot(x, np.arange(1, x.size + 1) / x.size, label=f"{r.policy} (${r.cost_usd:,.0f})")
        tl = r.timeline
        if tl.get("t_s"):
            ax2.step(np.asarray(tl["t_s"]) / 86400.0, tl["queued"], where="post", label=r.policy, lw=0.8)
    ax1.set_xscale("log")
    ax1.set_xlabel("job completion time (h, log)")
    ax1.set_ylabel("fraction of jobs")
    ax1.set_title("JCT CDF (legend: cost)")
    ax1.legend()
    ax2.set_xlabel("days since trace start")
    ax2.set_ylabel("jobs queued")
    ax2.set_title("queue length")
    ax2.legend()
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _table(rows: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    for col in ("policy", "jobs", "avg JCT h", "p95 JCT h", "avg queue min", "GPU util", "GPU-h paid", "cost",
                "Δ cost vs fifo", "preempt", "rejected"):
        table.add_column(col, justify="left" if col == "policy" else "right")
    base = next((r["cost_usd"] for r in rows if r["policy"] == "fifo"), None)
    for r in rows:
        delta = "" if not base else f"{100 * (r['cost_usd'] - base) / base:+.1f} %"
        table.add_row(r["policy"], str(r["jobs"]), f"{r['avg_jct_s'] / 3600:.2f}", f"{r['p95_jct_s'] / 3600:.2f}",
                      f"{r['avg_queue_s'] / 60:.1f}", f"{100 * r['gpu_utilisation']:.1f} %", f"{r['gpu_hours']:,.0f}",
                      money(r["cost_usd"]), delta, str(r["preemptions"]), str(r["rejected"]))
    return table


def replay_jobs_cmd(
    trace: Annotated[Path, typer.Option("--trace", help="Job trace: Alibaba openb_pod_list CSV or costplane job CSV.")],
    policy: Annotated[str, typer.Option("--policy", help=f"One of: {', '.join(POLICIES)}.")] = "fifo",
    capacity: Annotated[int | None, typer.Option("--capacity", help="Fixed cluster of this many GPUs (1..100000).", parser=Finite(1, 100_000, whole=True))] = None,
    nodes: Annotated[Path | None, typer.Option("--nodes", help="Node list (openb_node_list or node_info_df).")] = None,
    catalog: CatalogOpt = None,
    compare: Annotated[bool, typer.Option("--compare", help="Run every policy and show them side by side.")] = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="With --compare: PNG of JCT CDF and queue.")] = None,
    quotas: Annotated[Path | None, typer.Option("--quotas", help="Team quotas YAML (teams: {NAME: {...}}).")] = None,
    checkpointable: Annotated[bool, typer.Option("--checkpointable/--no-checkpointable",
                                                 help="Treat Alibaba trace jobs as checkpointable.")] = False,
    price_as: Annotated[list[str] | None, typer.Option("--gpu-price-as",
                                                       help="Price an opaque trace GPU as a catalog model, "
                                                            "NAME=MODEL (repeatable; default G2=T4 ...).")] = None,
    keep_base: Annotated[bool, typer.Option("--keep-base", help="cost-aware keeps the fixed cluster always on "
                                                                 "and buys only beyond it.")] = False,
    spot: Annotated[bool, typer.Option("--spot/--no-spot", help="Let cost-aware buy spot machines.")] = True,
    resample: Annotated[int | None, typer.Option("--resample", parser=Finite(1, 1_000_000, whole=True), help="Replay N jobs bootstrapped from the "
                                                                      "trace (synthetic scale test).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for spot interruptions and --resample.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Replay a GPU job trace under a scheduling policy: JCT, queueing, utilisation and cost."""
    names = list(POLICIES) if compare else [policy]
    for n in names:
        if n not in POLICIES:
            raise InputError(f"unknown job policy {n!r}", fix=f"use one of {', '.join(POLICIES)}")
    if plot is not None and not compare:
        raise InputError("--plot needs --compare", fix="add --compare")
    cat = load_catalog(catalog)
    pa = parse_price_as(price_as)
    jobset = read_job_trace(trace, checkpointable=checkpointable)
    if resample:
        if resample <= 0:
            raise InputError(f"--resample must be > 0, got {resample}", fix="pass a positive job count")
        jobset = JobSet(resample_jobs(jobset.jobs, resample, seed), f"{jobset.source} (resampled ×{resample})",
                        jobset.window_start_s, jobset.malformed, jobset.skipped)
    if not jobset.jobs:
        raise InputError(f"{trace}: no replayable GPU job ({jobset.summary()['skipped']}, "
                         f"{len(jobset.malformed)} malformed rows)", fix="pass a trace with scheduled GPU jobs")
    team_quotas = read_quotas(quotas) if quotas else {}
    fixed = build_cluster(jobset, cat, pa, capacity, nodes)
    cfg = SchedConfig(allow_spot=spot)
    results: list[JobReplayResult] = []
    with Progress(console=err_console, transient=True, disable=not err_console.is_terminal) as progress:
        for n in names:
            task = progress.add_task(f"replaying {n}", total=len(jobset.jobs))
            results.append(run_policy(n, jobset, fixed, cat, pa, cfg, team_quotas, keep_base, seed, record=compare,
                                      on_progress=lambda d, t, task=task: progress.update(task, completed=d)))
            progress.update(task, completed=len(jobset.jobs))
    rows = [result_dict(r, jobset, fixed) for r in results]
    for r in rows:
        if r["policy"] in ELASTIC_POLICIES:
            r["cluster"] = f"elastic {'above ' + fixed.label if keep_base else 'from zero'}, models of {fixed.label}"
    if plot is not None:
        plot_compare(results, plot, f"{Path(trace).name}: {fixed.label}")
    if as_json:
        emit_json(rows[0] if not compare else {"policies": rows, "plot": str(plot) if plot else None})
        return
    console.print(_table(rows, f"{Path(trace).name}: {len(jobset.jobs)} jobs, fixed cluster {fixed.label} "
                               f"(${fixed.hourly_usd:,.2f}/h)"))
    s = jobset.summary()
    console.print(f"not replayed: {s['skipped']}; malformed rows: {s['malformed_rows']} "
                  f"{'; '.join(s['malformed_examples'])}")
    if plot is not None:
        console.print(f"plot written to {plot}")


def demo_jobs() -> None:
    """Compare the policies on the bundled sample (or the shared Alibaba trace when present)."""
    from costplane.examples import example_path

    shared = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "traces" / "alibaba-gpu-2023" / \
        "openb_pod_list_default.csv"
    trace = shared if shared.exists() else example_path(SAMPLE_TRACE)
    cat = load_catalog()
    pa = parse_price_as(None)
    jobset = read_job_trace(trace)
    fixed = sized_cluster(jobset.jobs, cat, pa)
    cfg = SchedConfig()
    rows = [result_dict(run_policy(n, jobset, fixed, cat, pa, cfg, {}, False, 0), jobset, fixed) for n in POLICIES]
    console.print(_table(rows, f"{trace.name}: {len(jobset.jobs)} GPU jobs; fifo/sjf/las on {fixed.label}, "
                               "cost-aware elastic"))


def register(app: typer.Typer) -> None:
    app.command("replay-jobs")(replay_jobs_cmd)
