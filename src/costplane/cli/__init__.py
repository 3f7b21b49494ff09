"""The `costplane` command line (typer + rich): parses flags, calls one core function, prints or emits JSON.

Each command group lives in its own `_name.py` with a `register(app)` function, so command
families grow without touching each other. Errors: a CostplaneError becomes one line on stderr
and its exit code; usage errors exit 2; nothing else is caught, so bugs stay visible.
"""

from __future__ import annotations

import importlib
import sys

import typer

try:  # typer >= 0.20 vendors click as typer._click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import exceptions as click_exceptions

from costplane.cli._common import err_console
from costplane.core.errors import CostplaneError

app = typer.Typer(
    name="costplane",
    help="Cost-control plane for GPU infrastructure: measure, forecast, decide, act, replay.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Command modules, each with register(app). Order = order in --help.
_COMMAND_MODULES = (
    "costplane.cli._catalog",
    "costplane.cli._placement",
    "costplane.cli._demo",
)
_OPTIONAL_MODULES = (
    "costplane.cli._forecast",
    "costplane.cli._replay",
    "costplane.cli._jobs",
    "costplane.cli._ingest",
    "costplane.cli._measure",
    "costplane.cli._training",
    "costplane.cli._controller",
    "costplane.cli._serve",
    "costplane.cli._db",
)

for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(app)
for _name in _OPTIONAL_MODULES:
    try:
        _module = importlib.import_module(_name)
    except ModuleNotFoundError as _exc:  # a command family not installed in this build
        if _exc.name != _name:
            raise
        continue
    _module.register(app)


def main(argv: list[str] | None = None) -> int:
    try:
        app(args=argv, standalone_mode=False)
    except CostplaneError as exc:
        err_console.print(f"error: {exc.one_line()}", highlight=False, markup=False, soft_wrap=True)
        return exc.exit_code
    except typer.Abort:
        err_console.print("aborted", highlight=False)
        return 130
    except click_exceptions.ClickException as exc:  # usage errors: one stderr line, like every user error
        message = " ".join(exc.format_message().split()).rstrip(".")
        err_console.print(f"error: {message}; see `costplane --help`", highlight=False, markup=False, soft_wrap=True)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    return 0


def run() -> None:
    sys.exit(main())
