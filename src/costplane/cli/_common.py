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


class Finite:
    """A number flag bounded where it enters: finite (no nan/inf), within [lo, hi] (or (lo, hi] when `open_lo`).

    Use as `typer.Option(parser=Finite(0, 1e5, open_lo=True))`; whole=True takes whole numbers only. A value
    outside is a usage error that says the range, so no flag can exhaust memory, hang, or print inf.
    """

    def __init__(self, lo: float, hi: float, *, open_lo: bool = False, whole: bool = False) -> None:
        self.lo, self.hi, self.open_lo, self.whole = lo, hi, open_lo, whole
        self.__name__ = "INTEGER" if whole else "NUMBER"

    def fail(self, message: str) -> None:
        raise typer.BadParameter(message)

    def __call__(self, value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        else:
            try:
                number = float(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not a {'whole ' if self.whole else ''}number")
        low = ">" if self.open_lo else ">="
        if not math.isfinite(number) or number < self.lo or (self.open_lo and number == self.lo) or number > self.hi:
            self.fail(f"{value} is out of range: give a finite number {low} {self.lo:g} and <= {self.hi:g}")
        if self.whole:
            if number != int(number):
                self.fail(f"{value} is not a whole number")
            return int(number)
        return number


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


def stop_on_signals(stop: Any) -> None:
    """Ctrl-C (SIGINT) and SIGTERM (what Kubernetes sends a pod) set `stop` (a threading.Event): a long-running
    command ends its loop after the step in progress.

    Installed explicitly: a process started in the background by a non-interactive shell inherits SIGINT
    as ignored, and Python then installs no KeyboardInterrupt for it; the loop would never stop.
    """
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
