"""Shared CLI plumbing: one console, JSON output, option types, and the error-to-exit-code rule."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

# Piped output (CI logs, `| less`) gets a wide console so tables are not truncated to 80 columns.
console = Console() if sys.stdout.isatty() else Console(width=160)
err_console = Console(stderr=True)

CatalogOpt = Annotated[
    Path | None,
    typer.Option("--catalog", help="Project catalog CSV or SkyPilot v8 directory (default: bundled snapshot)."),
]
DiscountsOpt = Annotated[
    Path | None,
    typer.Option("--discounts", help="Negotiated discounts (YAML/JSON/CSV: cloud, instance_family, percent)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf: they become null, so every consumer can parse the output."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(_clean(data), indent=2, default=str) + "\n")


def money(x: float | None) -> str:
    return "-" if x is None else f"${x:,.2f}"
