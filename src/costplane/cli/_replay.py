"""`costplane replay`: an inference trace through an autoscaling policy, priced, against the oracle."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from costplane.autoscale import DEFAULT_POLICY, POLICIES, AutoscaleConfig, ServiceSpec, read_service_spec
from costplane.cli._common import CatalogOpt, Finite, JsonOpt, console, emit_json, err_console, money
from costplane.core.errors import CostplaneError, InputError
from costplane.traces import DemandSeries, load_trace

DEFAULT_PLOT = Path("out") / "replay-compare.png"


def replica_price(spec: ServiceSpec, catalog_path: Path | None) -> tuple[float, str]:
    """Price of one replica per hour (costplane.replay.inference.replica_price) from the catalog at `catalog_path`."""
    if spec.price_usd_per_hour is not None:
        return spec.price_usd_per_hour, "service spec price_usd_per_hour"
    from costplane.catalog import load_catalog
    from costplane.replay.inference import replica_price as price_from

    return price_from(spec, load_catalog(catalog_path))


def _inputs(trace: Path | None, service: Path | None, step: float | None, unit: str,
            only_service: str | None = None) -> tuple[DemandSeries, ServiceSpec]:
    from costplane.examples import example_path

    series = load_trace(trace or example_path("azure-conv-requests-per-s.csv"), step, unit, only_service)
    spec = read_service_spec(service or example_path("replay-service.yaml"))
    return series, spec


def _forecaster(name: str):  # noqa: ANN202 - a factory (window_steps, lookback_steps, season_steps) -> Forecaster
    if name == "recent-quantile":
        return None
    from costplane.autoscale._forecaster import PackageForecaster

    try:
        PackageForecaster(name)
    except ImportError:
        raise InputError(f"forecaster {name!r} needs costplane.forecast, which is not installed",
                         fix="use --forecaster recent-quantile") from None
    except CostplaneError as exc:  # an unknown model name: the forecast package says which exist
        raise InputError(f"forecaster {name!r}: {exc.message}",
                         fix=f"use recent-quantile or {exc.fix or 'a model of costplane.forecast'}") from None
    return lambda window_steps, lookback_steps, season_steps: PackageForecaster(name, window_steps, lookback_steps)


def _warn(warnings: tuple[str, ...]) -> None:
    for w in warnings:
        err_console.print(f"warning: {w}", highlight=False, markup=False, soft_wrap=True)


def _row(d: dict) -> list[str]:
    ratio = d["cost_ratio_to_oracle"]
    return [d["policy"], money(d["cost_usd"]), "-" if ratio is None else f"{ratio:.2f}",
            f"{100 * d['demand_served_fraction']:.2f} %", f"{d['gpu_hours']:.2f}", str(d["cold_starts"]),
            str(d["peak_replicas"]), f"{d['mean_replicas']:.2f}", f"{d['p99_queue_delay_s']:g}"]


def _table(rows: list[dict], title: str) -> Table:
    table = Table(title=title)
    for col in ("policy", "cost", "x oracle", "served", "GPU-h", "cold starts", "peak", "mean", "p99 wait s"):
        table.add_column(col, justify="left" if col == "policy" else "right")
    for d in rows:
        table.add_row(*_row(d))
    return table


def replay_cmd(
    trace: Annotated[Path | None, typer.Option(help="Request trace (Azure LLM CSV, Mooncake JSONL, requests CSV) "
                                               "or demand series CSV `timestamp,count` (default: bundled sample).")] = None,
    service: Annotated[Path | None, typer.Option(help="Service spec YAML (default: bundled chat service).")] = None,
    policy: Annotated[str, typer.Option(help=f"One of {', '.join(POLICIES)}, or module:function.")] = DEFAULT_POLICY,
    catalog: CatalogOpt = None,
    step: Annotated[float | None, typer.Option(help="Replay step in seconds (default 1).", parser=Finite(0.001, 86_400))] = None,
    unit: Annotated[str, typer.Option(help="Demand unit of request traces: requests or tokens.")] = "requests",
    only_service: Annotated[str | None, typer.Option(
        "--only-service", help="Requests CSV with a service column: keep this service's rows.")] = None,
    decision_interval: Annotated[float, typer.Option("--decision-interval", help="Seconds between decisions.", parser=Finite(0.001, 86_400))] = 15.0,
    oracle_milp_nodes: Annotated[int | None, typer.Option(
        "--oracle-milp-nodes", min=0, max=1_000_000,
        help="With a queue: also run the integer program for up to this many branch-and-bound nodes per 4 h "
             "window and use its (tighter, still valid) dual bound; work-limited, so the same on every "
             "machine; 0 = LP only; default: the root node on traces up to 4 h, LP only on longer ones.")] = None,
    forecaster: Annotated[str, typer.Option(
        help="Demand forecaster of predictive/hybrid/slo: recent-quantile (fast default) or a costplane.forecast "
             "model name such as ets (fitted on per-minute means).")] = "recent-quantile",
    compare: Annotated[bool, typer.Option("--compare", help="Run every policy and plot them.")] = False,
    plot: Annotated[Path | None, typer.Option(help=f"PNG path for --compare (default {DEFAULT_PLOT}).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Replay an inference trace through an autoscaling policy: cost, service level, and the oracle's cost."""
    from costplane.replay import oracle as oracle_mod  # scipy: imported only when a replay runs
    from costplane.replay.inference import replay_inference
    from costplane.replay.inference_compare import compare_policies, plot_comparison

    if decision_interval <= 0:
        raise InputError(f"--decision-interval must be > 0, got {decision_interval:g}", fix="pass e.g. 15")
    series, spec = _inputs(trace, service, step, unit, only_service)
    price, source = replica_price(spec, catalog)
    cfg = AutoscaleConfig(service=spec, decision_interval_s=decision_interval, forecaster=_forecaster(forecaster))
    if compare:
        with Progress(console=err_console, transient=True) as progress:
            task = progress.add_task("replaying policies", total=len(POLICIES) + 1)
            with oracle_mod.milp_nodes(oracle_milp_nodes):
                results = compare_policies(series, spec, price, cfg=cfg, price_source=source,
                                           on_done=lambda _: progress.advance(task))
            path = plot_comparison(results, plot or DEFAULT_PLOT)
            progress.advance(task)
        rows = [r.to_dict() for r in results]
        warnings = results[0].warnings
        _warn(warnings)
        if as_json:
            emit_json({"trace": series.summary(), "service": spec.to_dict(), "price_usd_per_hour": price,
                       "price_source": source, "oracle_cost_usd": rows[0]["oracle_cost_usd"],
                       "oracle_method": rows[0]["oracle_method"], "oracle_gap": rows[0]["oracle_gap"],
                       "plot": str(path), "warnings": list(warnings),
                       "policies": [{k: v for k, v in d.items() if k not in ("service", "trace")} for d in rows]})
            return
        console.print(_table(rows, f"{spec.name} on {Path(series.source).name}: oracle "
                                   f"{money(rows[0]['oracle_cost_usd'])} at {money(price)}/replica-h"))
        console.print(f"plot: {path}")
        return
    with oracle_mod.milp_nodes(oracle_milp_nodes):
        result = replay_inference(series, spec, policy, price, cfg, price_source=source)
    d = result.to_dict()
    _warn(result.warnings)
    if as_json:
        emit_json(d)
        return
    console.print(_table([d], f"{spec.name} on {Path(series.source).name} at {money(price)}/replica-h ({source})"))
    gap = "" if d["oracle_gap"] is None else f", optimum within +{100 * d['oracle_gap']:.1f} %"
    console.print(f"oracle (perfect foresight, {d['oracle_method']}{gap}): {money(d['oracle_cost_usd'])}; "
                  f"served {d['served_units']:.0f} of {d['served_units'] + d['unserved_units']:.0f} {series.unit}")


def register(app: typer.Typer) -> None:
    app.command("replay")(replay_cmd)


def demo_replay() -> None:
    console.print("[bold]replay[/]: every autoscaling policy on the bundled Azure chat sample (1 h, 1 s steps), "
                  "H100 replicas, against the perfect-foresight oracle")
    replay_cmd(compare=True)


__all__ = ["demo_replay", "register", "replay_cmd", "replica_price"]
