"""`costplane serve-plan`: the cheapest GPU type, replica size and purchase that keeps an inference SLO, by replay."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Annotated

import typer
import yaml
from rich.progress import Progress
from rich.table import Table

from costplane.catalog import load_catalog
from costplane.cli._common import CatalogOpt, DiscountsOpt, JsonOpt, console, emit_json, err_console, money
from costplane.core.errors import InputError
from costplane.serveplan import ServeOption, ServePlan, read_profile, require_choice, spec_for_option
from costplane.traces import load_trace

DEMO_PLOT = Path("out") / "serve-plan.png"
SkyYamlOpt = Annotated[Path | None, typer.Option(
    "--sky-yaml", help="Also write one replica of the choice as a SkyPilot task file here (`sky launch FILE`).")]


def plot_plan(plan: ServePlan, path: Path) -> Path:
    """PNG of cost vs served share: every option, the frontier, the SLO line and the choice."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    priced = [o for o in plan.options if o.cost_usd is not None]
    for purchase, marker in (("on-demand", "o"), ("spot", "^"), ("mixed", "s")):
        pts = [o for o in priced if o.purchase == purchase]
        if pts:
            ax.scatter([o.cost_usd for o in pts], [100 * (o.slo_served_fraction or 0.0) for o in pts], marker=marker,
                       label=purchase, zorder=3)
            for o in pts:
                ax.annotate(o.setup.candidate.label, (o.cost_usd, 100 * (o.slo_served_fraction or 0.0)), fontsize=7,
                            xytext=(3, 3), textcoords="offset points")
    if plan.frontier:
        ax.plot([o.cost_usd for o in plan.frontier], [100 * (o.slo_served_fraction or 0.0) for o in plan.frontier],
                "-", color="grey", lw=0.8, zorder=1, label="frontier")
    ax.axhline(100 * plan.profile.slo.served, color="red", ls="--", lw=0.8,
               label=f"SLO {100 * plan.profile.slo.served:g} % within {plan.profile.slo.max_queue_s:g} s")
    if plan.choice is not None:
        c = plan.choice
        ax.scatter([c.cost_usd], [100 * (c.slo_served_fraction or 0.0)], s=180, facecolors="none",
                   edgecolors="red", zorder=4, label="choice")
    ax.set_xlabel("cost over the trace (USD)")
    ax.set_ylabel("demand served within the queue budget (%)")
    ax.set_title(f"{plan.profile.name}: cost vs served share per candidate")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.3f} %"


def _print_plan(plan: ServePlan, trace_name: str) -> None:
    p = plan.profile
    table = Table(title=f"{p.name} on {trace_name}: SLO {100 * p.slo.served:g} % served within "
                        f"{p.slo.max_queue_s:g} s (default autoscaling policy, replayed)")
    for col in ("candidate", "purchase", "$/replica-h", "cost", "served", "x oracle", "cold starts", "peak", "note"):
        table.add_column(col, justify="left" if col in ("candidate", "purchase", "note") else "right")
    for o in plan.options:
        d = o.to_dict()
        if not o.setup.fits_memory:
            note = "does not fit memory"
        elif o.cost_usd is None:
            note = "no offer"
        else:
            note = ("← choice" if o is plan.choice else "") or ("" if o.meets_slo else "misses SLO")
        purchase = o.purchase + (f" (floor {o.on_demand_floor})" if o.purchase == "mixed" else "")
        ratio = d["cost_ratio_to_oracle"]
        table.add_row(o.setup.candidate.label, purchase if o.cost_usd is not None else "",
                      money(o.price_usd_per_hour), money(o.cost_usd), _pct(o.slo_served_fraction),
                      "-" if ratio is None else f"{ratio:.2f}", "" if d["cold_starts"] is None else str(d["cold_starts"]),
                      "" if d["peak_replicas"] is None else str(d["peak_replicas"]), note)
    console.print(table)


def _choice_line(plan: ServePlan, c: ServeOption) -> str:
    offer = c.setup.on_demand if c.purchase != "spot" else c.setup.spot
    where = "" if offer is None else f" on {offer.cloud} {offer.region} {offer.instance_type}"
    line = (f"[bold]choice[/]: {c.setup.candidate.label}, {c.purchase}{where}: {money(c.cost_usd)} over the trace, "
            f"{_pct(c.slo_served_fraction)} served")
    b = plan.baseline
    if b is not None and b is not c and b.cost_usd:
        saved = b.cost_usd - (c.cost_usd or 0.0)
        line += (f"; saves {money(saved)} ({100 * saved / b.cost_usd:.1f} %) against {b.setup.candidate.label} "
                 f"on demand (the newest GPU among the candidates)")
    return line


def write_spec(plan: ServePlan, option: ServeOption, path: Path, discounted: bool, catalog_source: str) -> None:
    spec = spec_for_option(plan, option, discounted)
    offer = option.setup.on_demand if option.purchase == "on-demand" else option.setup.spot
    header = [f"# Service spec written by `costplane serve-plan` for {plan.profile.name}: {option.setup.candidate.label}, "
              f"{option.purchase}" + (f" with {option.on_demand_floor} on-demand replicas as floor"
                                      if option.purchase == "mixed" else "") + ".",
              f"# Replica offer: {offer.cloud} {offer.region} {offer.instance_type} at ${offer.hourly_usd:.4f}/h "
              f"({catalog_source})." if offer else "#",
              "# Replay it: costplane replay --trace FILE --service THIS_FILE --json; for the controller, add it "
              "under `services:` with policy, team and target."]
    if "price_usd_per_hour" in spec:
        header.append("# price_usd_per_hour is the plan's effective price per replica-hour (spot overhead, "
                      "host minimums or discounts), so the replay costs what the plan says.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(header) + "\n" + yaml.safe_dump(spec, sort_keys=False))
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}", fix="pass a writable --write-spec path") from None


def _sky(plan: ServePlan, option: ServeOption, path: Path, catalog: Path | None) -> None:
    from costplane.cli._placement import _write_sky  # the one SkyPilot writer (`place --sky-yaml`)

    offer = option.setup.on_demand if option.purchase != "spot" else option.setup.spot
    assert offer is not None
    choice = SimpleNamespace(cloud=offer.cloud, region=offer.region, zone=offer.zone,
                             instance_type=offer.instance_type, gpu=option.setup.gpu, nodes=1, spot=offer.spot)
    note = f"one replica of {plan.profile.name} at ${offer.hourly_usd:.4f}/h"
    if option.purchase == "mixed":
        note += f" (the on-demand floor; replicas above {option.on_demand_floor} run spot)"
    _write_sky(path, f"{plan.profile.name}-replica", choice, option.setup.candidate.gpus_per_replica, catalog, note)


def serve_plan_cmd(
    profile: Annotated[Path, typer.Argument(help="Serve profile, YAML or JSON (SLO, memory, measured candidates).")],
    trace: Annotated[Path | None, typer.Option(help="Request trace or demand series, as for `costplane replay` "
                                               "(default: bundled sample).")] = None,
    catalog: CatalogOpt = None,
    discounts: DiscountsOpt = None,
    step: Annotated[float | None, typer.Option(help="Replay step in seconds (default 1).")] = None,
    unit: Annotated[str, typer.Option(help="Demand unit of request traces: requests or tokens.")] = "requests",
    only_service: Annotated[str | None, typer.Option(
        "--only-service", help="Requests CSV with a service column: keep this service's rows.")] = None,
    decision_interval: Annotated[float, typer.Option("--decision-interval", help="Seconds between decisions.")] = 15.0,
    tight_oracle: Annotated[bool, typer.Option(
        "--tight-oracle", help="Oracle as `costplane replay` (LP + integer program: tighter, much slower); "
                               "default: the LP bound. Cost and served share do not depend on it.")] = False,
    plot: Annotated[Path | None, typer.Option(help="Write cost vs served share as a PNG here.")] = None,
    write_spec_to: Annotated[Path | None, typer.Option(
        "--write-spec", help="Write the choice as a service spec (replay / controller format) here.")] = None,
    sky_yaml: SkyYamlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cheapest GPU type x replica size x purchase that meets the SLO on a replayed trace, and the frontier."""
    from costplane.examples import example_path
    from costplane.replay.serve_plan import run_serve_plan

    if decision_interval <= 0:
        raise InputError(f"--decision-interval must be > 0, got {decision_interval:g}", fix="pass e.g. 15")
    prof = read_profile(profile)
    cat = load_catalog(catalog, discounts)
    series = load_trace(trace or example_path("azure-conv-requests-per-s.csv"), step, unit, only_service)
    with Progress(console=err_console, transient=True, disable=as_json) as progress:
        task = progress.add_task("replaying candidates", total=len(prof.candidates))
        plan = run_serve_plan(prof, series, cat, decision_interval_s=decision_interval, tight_oracle=tight_oracle,
                              on_done=lambda _: progress.advance(task))
    if plot is not None:
        plot_plan(plan, plot)
    if not as_json:
        _print_plan(plan, Path(series.source).name)
    choice = require_choice(plan)  # no candidate meets the SLO: exit 1, one line naming the best served share
    for w in plan.warnings:
        err_console.print(f"warning: {w}", highlight=False, markup=False, soft_wrap=True)
    if write_spec_to is not None:
        write_spec(plan, choice, write_spec_to, bool(cat.discounts_applied), cat.source)
    if sky_yaml is not None:
        _sky(plan, choice, sky_yaml, catalog)
    if as_json:
        out = plan.to_dict()
        out["trace"] = series.summary()
        out["catalog"] = {"as_of": cat.as_of, "source": cat.source, "discounts": list(cat.discounts_applied)}
        emit_json(out)
        return
    console.print(_choice_line(plan, choice))
    for label, path in (("plot", plot), ("service spec", write_spec_to), ("SkyPilot task", sky_yaml)):
        if path is not None:
            console.print(f"{label}: {path}")


def register(app: typer.Typer) -> None:
    app.command("serve-plan")(serve_plan_cmd)


def demo_serve_plan() -> None:
    from costplane.examples import example_path

    console.print("[bold]serve-plan[/]: which GPU should the chat service run on? Every candidate of an "
                  "ILLUSTRATIVE profile (made-up throughput, not measurements) replayed on the bundled Azure "
                  "chat sample with the default autoscaling policy")
    serve_plan_cmd(example_path("serve-profile.yaml"), plot=DEMO_PLOT)


__all__ = ["demo_serve_plan", "plot_plan", "register", "serve_plan_cmd", "write_spec"]
