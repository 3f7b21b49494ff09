"""Lazy command loading: which module registers each top-level command, imported only when that command runs.

`costplane --help` lists the commands from the table below without importing any command module, and
`costplane forecast backtest ...` imports `cli/_forecast.py` alone (not pandas, scipy, sqlalchemy, fastapi,
matplotlib, optuna ... that other commands need). A command module still registers itself with
`register(app)`; the table only says where to find it and what `--help` shows for it. A name missing from
the table is still found (every `cli/_*.py` module with a `register` is then loaded), and
`tests/test_forecast_startup.py` checks that the table matches what the modules register: a new command
adds one line here.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import typer
import typer.core
import typer.main

# name -> (module under costplane.cli, one-line help); the order here is the order in --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "catalog": ("_catalog", "List GPU offers of the price catalog, cheapest first."),
    "catalog-import": ("_catalog", "Import a SkyPilot v8 catalog directory into the project's compact CSV schema."),
    "place": ("_placement", "Cheapest feasible offers for one request, ranked by total cost."),
    "plan": ("_placement", "Place many workloads jointly at minimum cost under quotas (integer program, HiGHS)."),
    "forecast": ("_forecast", "Demand forecasting: backtest, predict and fit on long-format series."),
    "replay": ("_replay", ("Replay an inference trace through an autoscaling policy: cost, service level, and the "
                          "oracle's cost.")),
    "replay-jobs": ("_jobs", "Replay a GPU job trace under a scheduling policy: JCT, queueing, utilisation and cost."),
    "agent": ("_ingest", "NVML node agent: GPU utilisation, memory and power under DCGM metric names on /metrics."),
    "ingest": ("_ingest", "Read Prometheus, FOCUS bills, usage CSV and Kubernetes objects into the store (idempotent)."),
    "cost": ("_measure", "Attribute GPU cost to teams, projects or workloads over a window; idle cost shown apart."),
    "waste": ("_measure", "Paid vs used GPU-hours per workload, idle cost, and the action that would save the most."),
    "report": ("_measure", ("Write a self-contained HTML report: spend by team, idle, efficiency, top waste and "
                           "savings.")),
    "budget": ("_measure", "Monthly budgets per team or project: forecast and alerts."),
    "train-plan": ("_training", ("Cheapest expected cost to finish a training job (GPU model × count × offer × spot), "
                                "and the frontier.")),
    "hpo": ("_training", ("Hyperparameter search (Optuna, with pruning) of your objective, each trial charged to a "
                          "budget in the store.")),
    "serve-plan": ("_serveplan", ("Cheapest GPU type x replica size x purchase that meets the SLO on a replayed trace, "
                                 "and the frontier.")),
    "controller": ("_controller", "The live control loop: observe, decide, store, act."),
    "serve": ("_serve", ("Serve the REST API (/api/v1), the dashboard (/), /metrics and /healthz, with the controller "
                        "running.")),
    "token": ("_serve", "API tokens: create (shown once), list, revoke."),
    "export": ("_serve", "Export the store for sharing: team, project, workload, namespace and host names masked, "
                         "times shifted."),
    "db": ("_db", "Database schema and status."),
    "demo": ("_demo", "Run the main job on the embedded defaults and print readable results."),
}


def modules() -> list[str]:
    """Every command module: those of the table in --help order, then any other `cli/_*.py` (not shared ones)."""
    import costplane.cli

    found = [m.name for m in pkgutil.iter_modules(costplane.cli.__path__)
             if m.name.startswith("_") and m.name not in ("__main__", "_common", "_lazy")]
    return list(dict.fromkeys([*(mod for mod, _ in COMMANDS.values()), *sorted(found)]))


def load(module: str) -> dict[str, Any]:
    """Import one command module and return the click commands it registers, by name."""
    mod = importlib.import_module(f"costplane.cli.{module}")
    if not hasattr(mod, "register"):
        return {}
    sub = typer.Typer()
    mod.register(sub)
    return dict(typer.main.get_group(sub).commands)


class LazyGroup(typer.core.TyperGroup):
    """The root group: lists commands from `COMMANDS`, imports a command's module when it is looked up."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return list(dict.fromkeys([*COMMANDS, *self.commands]))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        entry = COMMANDS.get(cmd_name)
        if entry is not None and self._listing:  # --help needs the name and the line, not the module
            return typer.core.TyperCommand(cmd_name, help=entry[1], short_help=entry[1])
        for module in [entry[0]] if entry else modules():
            for name, cmd in load(module).items():
                self.commands.setdefault(name, cmd)
            if cmd_name in self.commands:
                break
        return self.commands.get(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False
