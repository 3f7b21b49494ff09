"""`costplane train-plan` (cheapest expected-cost way to finish a training job) and `costplane hpo` (budgeted search)."""

from __future__ import annotations

import dataclasses
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


def load_objective(spec: str, path: Path | None = None):
    """`module:function` or `file.py:function` -> the callable (the module imported from `path`, default cwd)."""
    import importlib
    import importlib.util
    import sys

    module_name, _, fn_name = spec.rpartition(":")
    if not module_name or not fn_name:
        raise InputError(f"--objective {spec!r} is not module:function", fix="write e.g. --objective train:objective")
    base = (path or Path.cwd()).resolve()
    try:
        if module_name.endswith(".py"):
            file = (base / module_name).resolve()
            module_spec = importlib.util.spec_from_file_location(file.stem, file)
            if module_spec is None or not file.is_file():
                raise ImportError(f"no file {file}")
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)  # type: ignore[union-attr]
        else:
            if str(base) not in sys.path:
                sys.path.insert(0, str(base))
            module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(f"--objective {spec!r}: cannot import {module_name} ({exc})",
                         fix="run from the folder that holds it, or pass --path DIR") from None
    except Exception as exc:  # the user's module itself failed while importing (syntax error, ...)
        reason = " ".join(str(exc).split())[:200]
        raise InputError(f"--objective {spec!r}: importing {module_name} failed: {exc.__class__.__name__}: {reason}",
                         fix=f"fix {module_name} so that it imports without an error") from None
    fn = getattr(module, fn_name, None)
    if not callable(fn):
        raise InputError(f"--objective {spec!r}: {module_name} has no function {fn_name}",
                         fix="name a function that takes an optuna.Trial and returns its value")
    return fn


def _offer_price(gpu: str, gpus: int, price: float | None, catalog) -> tuple[float, dict]:
    """USD per GPU-hour: the given price, else the cheapest on-demand offer with `gpus` GPUs of `gpu` (named)."""
    if price is not None:
        if not price > 0:
            raise InputError(f"--price-usd-per-gpu-hour must be > 0, got {price:g}", fix="pass e.g. 2.5")
        return price, {"gpus": gpus, "source": "--price-usd-per-gpu-hour"}
    from costplane.placement import PlacementRequest, place

    best = place(PlacementRequest(gpu=gpu, gpus_per_node=gpus, hours=1.0), load_catalog(catalog), limit=1)[0]
    offer = {"cloud": best.cloud, "region": best.region, "instance_type": best.instance_type, "gpu": best.gpu,
             "gpus": best.gpus_per_node, "hourly_usd": best.hourly_usd}
    return best.hourly_usd / best.gpus_per_node, offer


def hpo_cmd(
    objective: Annotated[str | None, typer.Option(
        help="Your Optuna objective as module:function (or file.py:function): takes a trial, may report and "
             "prune, returns its value. Without it, the built-in scikit-learn demo runs.")] = None,
    path: Annotated[Path | None, typer.Option(help="Folder to import --objective from (default: current).")] = None,
    direction: Annotated[str, typer.Option(help="maximize or minimize the objective's value.")] = "maximize",
    trials: Annotated[int, typer.Option(help="Most trials to run.", parser=Finite(1, 100_000, whole=True))] = 30,
    budget_usd: Annotated[float | None, typer.Option("--budget-usd", help="Stop the search when it has cost this much.")] = None,
    pruner: Annotated[str, typer.Option(help="hyperband, sha (successive halving), median or none.")] = "hyperband",
    team: Annotated[str | None, typer.Option(help="Charge the team's monthly budget (`costplane budget`).")] = None,
    project: Annotated[str | None, typer.Option(help="Charge the project's monthly budget instead.")] = None,
    team_budget_usd: Annotated[float | None, typer.Option(
        "--team-budget-usd", help="Set the team's (or project's) monthly budget first, as `budget set` does.")] = None,
    study: Annotated[str | None, typer.Option(help="Study name (charged as workload hpo:NAME).")] = None,
    gpu: Annotated[str, typer.Option(help="GPU model of the offer a trial runs on (its cheapest on-demand offer "
                                          "prices a GPU-second).")] = "H100",
    gpus: Annotated[int, typer.Option(help="GPUs one trial holds (a trial's GPU-seconds = its time × GPUs).",
                                      parser=Finite(1, 4096, whole=True))] = 1,
    price_usd_per_gpu_hour: Annotated[float | None, typer.Option(
        "--price-usd-per-gpu-hour", help="Price one GPU-hour directly instead of from the catalog.")] = None,
    model: Annotated[str, typer.Option(help="Demo: sgd (SGDClassifier) or mlp (MLPClassifier).")] = "sgd",
    dataset: Annotated[str, typer.Option(help="Demo: digits, breast_cancer or wine (shipped with scikit-learn).")] = "digits",
    epochs: Annotated[int, typer.Option(help="Demo: most epochs per trial (the pruners' max resource).",
                                        parser=Finite(1, 100_000, whole=True))] = 27,
    seed: Annotated[int, typer.Option(help="Sampler, split and model seed.")] = 0,
    catalog: CatalogOpt = None,
    db: Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL of the store holding the budgets "
                                                        "(default: COSTPLANE_DB_URL or COSTPLANE_HOME).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Hyperparameter search (Optuna, with pruning) of your objective, each trial charged to a budget in the store."""
    from costplane.costing import StoreLedger, set_month_budget
    from costplane.store import Store
    from costplane.training._hpo import HpoConfig, MemoryLedger, TrialCharge, run_hpo, run_objective

    if team is not None and project is not None:
        raise InputError("a study charges one team or one project", fix="pass --team or --project, not both")
    if team_budget_usd is not None and team is None and project is None:
        raise InputError("--team-budget-usd needs --team or --project", fix="name the team with --team T")
    if gpus < 1:
        raise InputError(f"--gpus must be 1 or more, got {gpus}", fix="pass --gpus 1")
    name = study or (f"{objective.rpartition(':')[2]}" if objective else f"demo-{model}-{dataset}")
    fn = load_objective(objective, path) if objective else None  # bad input fails before anything is written
    if fn is None:  # the demo's choices are checked before the store is touched
        HpoConfig(trials=trials, max_epochs=epochs, pruner=pruner, model=model, dataset=dataset, budget_usd=budget_usd)
    price, offer = _offer_price(gpu, gpus, price_usd_per_gpu_hour, catalog)
    if team is not None or project is not None:
        if team_budget_usd is not None:
            set_month_budget(Store.open(db), "team" if team else "project", team or project, team_budget_usd)
        ledger = StoreLedger.open(name, team, project, budget_usd, db=db, catalog=load_catalog(catalog), offer=offer)
    else:
        ledger = MemoryLedger(budget_usd)
    if fn is not None:
        out = run_objective(fn, ledger, price, gpus, trials, direction, pruner, seed, name)
    else:  # the demo: CPU-seconds of scikit-learn training stand in for GPU-seconds
        left = ledger.remaining_usd()
        cfg = HpoConfig(trials=trials, max_epochs=epochs, pruner=pruner, model=model, dataset=dataset, seed=seed,
                        budget_usd=None if left == float("inf") else max(left, 1e-12),
                        price_usd_per_gpu_hour=price, team=team or project)
        with Progress(TextColumn("hpo"), BarColumn(), TextColumn("{task.completed}/{task.total} trials · {task.fields[cost]}"),
                      console=err_console, transient=True, disable=as_json or not err_console.is_terminal) as progress:
            task = progress.add_task("hpo", total=trials, cost="$0")
            result = run_hpo(cfg, on_trial=lambda done, cost: progress.update(task, completed=done, cost=f"${cost:.6f}"))
        for t in result.trial_log:
            ledger.charge(TrialCharge(name, t.number, t.state, t.gpu_seconds, t.cost_usd, t.score, t.params))
        out = {**result.to_dict(), "study": name, "best_value": result.best_score}
    out["offer"] = offer
    out["ledger"] = ledger.to_dict() if isinstance(ledger, StoreLedger) else {
        "search_budget_usd": budget_usd, "charged_usd": ledger.spent_usd}
    if as_json:
        emit_json(out)
        return
    best = out.get("best_value")
    console.print(f"study {name}: best value {best} with {out['best_params']}")
    console.print(f"{out['trials']} trials ({out['pruned_trials']} pruned or stopped), {out['gpu_seconds']:.2f} GPU-s "
                  f"at ${price:.4f}/GPU-h = ${out['cost_usd']:.6f}" + (" — stopped by budget" if out["stopped_by_budget"] else ""))
    if isinstance(ledger, StoreLedger):
        d = ledger.to_dict()
        who = f"team {team}" if team else f"project {project}"
        left = "no monthly budget set" if d["remaining_usd"] is None else f"${d['remaining_usd']:.6f} left"
        console.print(f"{who}: charged ${d['charged_usd']:.6f} to the store ({left})")


def register(app: typer.Typer) -> None:
    app.command("train-plan")(train_plan_cmd)
    app.command("hpo")(hpo_cmd)


def demo_training() -> None:
    from costplane.examples import example_path

    console.print("[bold]train-plan[/]: the bundled example profile (examples/train-llama-8b.yaml), deadline 24 h")
    train_plan_cmd(example_path("train-llama-8b.yaml"), deadline="24h")
