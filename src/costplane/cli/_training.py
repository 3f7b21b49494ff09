"""`costplane train-plan` (cheapest expected-cost way to finish a training job) and `costplane hpo` (budgeted search)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from costplane.catalog import load_catalog
from costplane.cli._common import CatalogOpt, Finite, JsonOpt, console, emit_json, err_console, money
from costplane.cli._placement import SkyYamlOpt, _write_sky
from costplane.core.errors import InputError
from costplane.core.files import read_structured
from costplane.training import TrainingPlan, parse_duration_s, parse_rates, plan_training, read_profile

LEDGER_ENV = "COSTPLANE_HPO_LEDGER"
DEFAULT_LEDGER = "~/.costplane/hpo-ledger.json"
MAX_TABLE_ROWS = 25


def plot_frontier(plan: TrainingPlan, path: Path) -> None:
    """PNG of the cost-time frontier with the choice and the deadline marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for spot, marker in ((False, "o"), (True, "^")):
        pts = [o for o in plan.frontier if o.spot == spot]
        if pts:
            ax.scatter([o.expected_hours for o in pts], [o.expected_cost_usd for o in pts], marker=marker,
                       label="spot" if spot else "on-demand")
            for o in pts:
                ax.annotate(f"{o.gpus}×{o.gpu}", (o.expected_hours, o.expected_cost_usd), fontsize=7,
                            xytext=(3, 3), textcoords="offset points")
    ax.plot([o.expected_hours for o in plan.frontier], [o.expected_cost_usd for o in plan.frontier], "-",
            color="grey", lw=0.8, zorder=0)
    c = plan.choice
    ax.scatter([c.expected_hours], [c.expected_cost_usd], s=160, facecolors="none", edgecolors="red", label="choice")
    if plan.deadline_s is not None:
        ax.axvline(plan.deadline_s / 3600, color="red", ls="--", lw=0.8, label="deadline")
    ax.set_xlabel("expected hours to completion")
    ax.set_ylabel("expected cost (USD)")
    ax.set_title(f"{plan.profile_name}: cost–time frontier")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _print_plan(plan: TrainingPlan) -> None:
    for curve in plan.curves.values():
        loo = "-" if curve.loo_error is None else f"{100 * curve.loo_error:.1f} %"
        console.print(f"{curve.gpu}: {curve.form} fit on {list(curve.measured_gpus)} GPUs, fit error "
                      f"{100 * curve.fit_error:.1f} %, leave-one-out {loo}, used for "
                      f"{curve.allowed_range[0]}–{curve.allowed_range[1]} GPUs")
    table = Table(title=f"{plan.profile_name}: cost–time frontier ({plan.options_considered} options)")
    for col in ("hours", "cost", "gpus", "nodes", "spot", "cloud", "region", "instance", "note"):
        table.add_column(col, justify="right" if col in ("hours", "cost", "gpus", "nodes") else "left")
    shown = plan.frontier
    if len(shown) > MAX_TABLE_ROWS:  # an even sample of a long frontier, the choice always included
        keep = {round(i * (len(shown) - 1) / (MAX_TABLE_ROWS - 1)) for i in range(MAX_TABLE_ROWS)}
        shown = tuple(o for i, o in enumerate(shown) if i in keep or o == plan.choice)
        table.caption = f"{len(shown)} of {len(plan.frontier)} frontier points shown; --json lists all"
    for o in shown:
        note = ("← choice " if o == plan.choice else "") + ("extrapolated" if o.extrapolated else "")
        if plan.deadline_s is not None and o.expected_hours * 3600 > plan.deadline_s:
            note += " misses deadline"
        table.add_row(f"{o.expected_hours:.1f}", money(o.expected_cost_usd), f"{o.gpus}×{o.gpu}", str(o.nodes),
                      "spot" if o.spot else "", o.cloud, o.region, o.instance_type, note.strip())
    console.print(table)
    c = plan.choice
    deadline = "" if plan.deadline_s is None else f" within {plan.deadline_s / 3600:g} h"
    console.print(f"[bold]choice{deadline}[/]: {c.nodes} × {c.instance_type} ({c.gpus}×{c.gpu}, "
                  f"{'spot' if c.spot else 'on-demand'}) on {c.cloud} {c.region}: "
                  f"{c.expected_hours:.1f} h expected, {money(c.expected_cost_usd)} expected")


def train_plan_cmd(
    profile: Annotated[Path, typer.Argument(help="Job profile, YAML or JSON (work, memory, throughput points).")],
    deadline: Annotated[str | None, typer.Option(help="Finish within this long: 48h, 90m, 3600s, 2d.")] = None,
    interruption_rates: Annotated[Path | None, typer.Option(
        "--interruption-rates", help="YAML/JSON mapping cloud, cloud/region or cloud/region/instance -> "
                                     "spot interruptions per node-hour.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write the cost–time frontier as a PNG here.")] = None,
    catalog: CatalogOpt = None,
    sky_yaml: SkyYamlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cheapest expected cost to finish a training job (GPU model × count × offer × spot), and the frontier."""
    job = read_profile(profile)
    deadline_s = None if deadline is None else parse_duration_s(deadline)
    if interruption_rates is not None:
        extra = parse_rates(read_structured(interruption_rates, "interruption rates"), str(interruption_rates))
        job = dataclasses.replace(job, interruption_rates={**job.interruption_rates, **extra})
    plan = plan_training(job, load_catalog(catalog), deadline_s)
    for w in plan.warnings:
        err_console.print(f"warning: {w}", highlight=False, markup=False, soft_wrap=True)
    if plot is not None:
        plot_frontier(plan, plot)
    if sky_yaml is not None:
        c = plan.choice
        _write_sky(sky_yaml, plan.profile_name, c, c.gpus_per_node, catalog,
                   f"expected {c.expected_hours:.2f} h and ${c.expected_cost_usd:.2f}")
    if as_json:
        emit_json(plan.to_dict())
        return
    _print_plan(plan)
    if plot is not None:
        console.print(f"frontier plot: {plot}")


def _ledger_path(ledger: Path | None) -> Path:
    return (ledger or Path(os.environ.get(LEDGER_ENV, DEFAULT_LEDGER))).expanduser()


def _read_ledger(path: Path) -> dict:
    if not path.exists():
        return {"teams": {}}
    data = read_structured(path, "HPO ledger")
    if not isinstance(data, dict) or not isinstance(data.get("teams"), dict):
        raise InputError(f"{path}: not an HPO ledger (expected {{\"teams\": {{...}}}})",
                         fix=f"delete it or point --ledger / ${LEDGER_ENV} elsewhere")
    return data


def hpo_cmd(
    trials: Annotated[int, typer.Option(help="Most trials to run.", parser=Finite(1, 100_000, whole=True))] = 30,
    budget_usd: Annotated[float | None, typer.Option("--budget-usd", help="Stop the search when it has cost this much.")] = None,
    pruner: Annotated[str, typer.Option(help="hyperband, sha (successive halving) or none.")] = "hyperband",
    team: Annotated[str | None, typer.Option(help="Charge the team's budget (kept in the ledger).")] = None,
    team_budget_usd: Annotated[float | None, typer.Option("--team-budget-usd", help="Set the team's total budget.")] = None,
    ledger: Annotated[Path | None, typer.Option(help=f"Team spend ledger (default ${LEDGER_ENV} or {DEFAULT_LEDGER}).")] = None,
    model: Annotated[str, typer.Option(help="sgd (SGDClassifier) or mlp (MLPClassifier).")] = "sgd",
    dataset: Annotated[str, typer.Option(help="digits, breast_cancer or wine (shipped with scikit-learn).")] = "digits",
    epochs: Annotated[int, typer.Option(help="Most epochs per trial (the pruners' max resource).", parser=Finite(1, 100_000, whole=True))] = 27,
    seed: Annotated[int, typer.Option(help="Sampler, split and model seed.")] = 0,
    gpu: Annotated[str, typer.Option(help="GPU model whose cheapest on-demand price prices a GPU-second.")] = "H100",
    price_usd_per_gpu_hour: Annotated[float | None, typer.Option(
        "--price-usd-per-gpu-hour", help="Price one GPU-hour directly instead of from the catalog.")] = None,
    catalog: CatalogOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Hyperparameter search (Optuna) under a cost budget; CPU-seconds stand in for GPU-seconds."""
    from costplane.training._hpo import HpoConfig, price_per_gpu_hour, run_hpo

    price = price_usd_per_gpu_hour if price_usd_per_gpu_hour is not None else price_per_gpu_hour(load_catalog(catalog), gpu)
    book, path, spent = None, None, 0.0
    if team is not None:
        path = _ledger_path(ledger)
        book = _read_ledger(path)
        entry = book["teams"].setdefault(team, {"budget_usd": None, "spent_usd": 0.0})
        if team_budget_usd is not None:
            entry["budget_usd"] = team_budget_usd
        team_budget_usd, spent = entry["budget_usd"], float(entry["spent_usd"])
    elif team_budget_usd is not None:
        raise InputError("--team-budget-usd needs --team", fix="name the team with --team T")
    cfg = HpoConfig(trials=trials, max_epochs=epochs, pruner=pruner, model=model, dataset=dataset, seed=seed,
                    budget_usd=budget_usd, price_usd_per_gpu_hour=price, team=team, team_budget_usd=team_budget_usd,
                    team_spent_usd=spent)
    with Progress(TextColumn("hpo"), BarColumn(), TextColumn("{task.completed}/{task.total} trials · {task.fields[cost]}"),
                  console=err_console, transient=True, disable=as_json or not err_console.is_terminal) as progress:
        task = progress.add_task("hpo", total=trials, cost="$0")
        result = run_hpo(cfg, on_trial=lambda done, cost: progress.update(task, completed=done, cost=f"${cost:.6f}"))
    if book is not None and path is not None and team is not None:
        book["teams"][team]["spent_usd"] = result.team_spent_usd
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(book, indent=2) + "\n")
    if as_json:
        emit_json(result.to_dict())
        return
    console.print(f"best validation accuracy {result.best_score} with {result.best_params}")
    console.print(f"{result.trials} trials ({result.pruned_trials} pruned or stopped), {result.epochs} epochs, "
                  f"{result.gpu_seconds:.2f} GPU-s at ${price:.2f}/GPU-h = ${result.cost_usd:.6f}"
                  + (" — stopped by budget" if result.stopped_by_budget else ""))
    if team:
        console.print(f"team {team}: spent ${result.team_spent_usd:.6f}"
                      + ("" if team_budget_usd is None else f" of ${team_budget_usd:.6f}"))


def register(app: typer.Typer) -> None:
    app.command("train-plan")(train_plan_cmd)
    app.command("hpo")(hpo_cmd)


def demo_training() -> None:
    from costplane.examples import example_path

    console.print("[bold]train-plan[/]: the bundled example profile (examples/train-llama-8b.yaml), deadline 24 h")
    train_plan_cmd(example_path("train-llama-8b.yaml"), deadline="24h")
