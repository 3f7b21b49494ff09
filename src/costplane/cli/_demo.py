"""`costplane demo`: the README's main job on the embedded defaults (bundled catalog, sample trace, SQLite)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.rule import Rule

from costplane.cli import _forecast, _ingest, _jobs, _measure, _placement, _replay, _serve, _serveplan, _training
from costplane.cli._common import JsonOpt, console, emit_json
from costplane.examples import example_path

__all__ = ["DEMO_STEPS", "demo_cmd", "example_path"]

# The main job, step by step: each command family shows its result on the embedded defaults.
DEMO_STEPS = (
    _placement.demo_place,
    _placement.demo_plan,
    _replay.demo_replay,
    _jobs.demo_jobs,
    _measure.demo_measure,
    _forecast.demo_forecast,
    _ingest.demo_ingest,
    _training.demo_training,
    _serveplan.demo_serve_plan,
    _serve.demo_serve,
)


def demo_cmd(
    only: Annotated[list[str] | None, typer.Option(help="Run only steps whose name contains this.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the main job on the embedded defaults and print readable results."""
    steps = []
    for step in DEMO_STEPS:
        name = step.__name__.removeprefix("demo_")
        if only and not any(o in name for o in only):
            continue
        if as_json:  # each step's readable output, as text, in one JSON document
            with console.capture() as captured:
                step()
            steps.append({"step": name, "output": captured.get()})
            continue
        console.print(Rule(name.replace("_", " ")))
        step()
    if as_json:
        emit_json({"steps": steps})


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)
