"""`costplane demo`: the README's main job on the embedded defaults (bundled catalog, sample trace, SQLite)."""

from __future__ import annotations

import importlib
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.rule import Rule

from costplane.cli._common import console

# Steps other command families contribute: (module, function) called with no arguments.
DEMO_STEPS: tuple[tuple[str, str], ...] = (
    ("costplane.cli._placement", "demo_place"),
    ("costplane.cli._placement", "demo_plan"),
    ("costplane.cli._replay", "demo_replay"),
    ("costplane.cli._jobs", "demo_jobs"),
    ("costplane.cli._measure", "demo_measure"),
    ("costplane.cli._forecast", "demo_forecast"),
    ("costplane.cli._ingest", "demo_ingest"),
    ("costplane.cli._training", "demo_training"),
    ("costplane.cli._serve", "demo_serve"),
)


def example_path(name: str) -> Path:
    return Path(str(resources.files("costplane.examples") / name))


def demo_cmd(
    only: Annotated[list[str] | None, typer.Option(help="Run only steps whose name contains this.")] = None,
) -> None:
    """Run the main job on the embedded defaults and print readable results."""
    for module_name, func in DEMO_STEPS:
        if only and not any(o in func for o in only):
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        step = getattr(module, func, None)
        if step is None:
            continue
        console.print(Rule(func.removeprefix("demo_").replace("_", " ")))
        step()


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)
