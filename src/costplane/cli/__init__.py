"""The `costplane` command line (typer + rich): parses flags, calls one core function, prints or emits JSON.

Each command group lives in its own `_name.py` with a `register(app)` function, loaded on first use
(`_lazy.COMMANDS`), so command families grow without touching each other. Errors: a CostplaneError becomes
one line on stderr and its exit code; usage errors exit 2; nothing else is caught, so bugs stay visible.
"""

from __future__ import annotations

import sys

import typer

try:  # typer >= 0.20 vendors click as typer._click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import exceptions as click_exceptions

from costplane.cli._common import err_console
from costplane.cli._lazy import LazyGroup
from costplane.core.errors import CostplaneError

app = typer.Typer(
    name="costplane",
    help="Cost-control plane for GPU infrastructure: measure, forecast, decide, act, replay.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=LazyGroup,
)


@app.callback()
def _root() -> None:
    """Cost-control plane for GPU infrastructure: measure, forecast, decide, act, replay."""


# Each command family registers itself when one of its commands runs (cli/_lazy.py: COMMANDS names them in
# --help order), so a command imports only what it needs; `costplane --help` imports no command module.


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
        ctx = getattr(exc, "ctx", None)
        command = getattr(ctx, "command_path", None) or "costplane"
        err_console.print(f"error: {message}. To fix: see `{command} --help`", highlight=False, markup=False,
                          soft_wrap=True)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except UnicodeDecodeError as exc:  # a binary file where a text file (CSV, YAML, JSON) was expected
        err_console.print(f"error: a file given is not UTF-8 text ({exc.reason} at byte {exc.start}). To fix: pass "
                          "the CSV/YAML/JSON file the option asks for", highlight=False, markup=False, soft_wrap=True)
        return 2
    except OSError as exc:  # a path the user named cannot be read or written (a directory, /proc, no permission)
        where = f" {exc.filename}" if exc.filename else ""
        err_console.print(f"error: cannot use{where}: {exc.strerror or exc.__class__.__name__}. To fix: name a "
                          "file in an existing folder you may write to (not a directory)", highlight=False,
                          markup=False, soft_wrap=True)
        return 2
    except Exception as exc:
        from sqlalchemy.exc import SQLAlchemyError

        if not isinstance(exc, SQLAlchemyError):
            raise
        first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [exc.__class__.__name__])[0][:200]
        err_console.print(f"error: the database refused the operation: {first}. To fix: check --db / "
                          "COSTPLANE_DB_URL, then run `costplane db upgrade --db URL`", highlight=False,
                          markup=False, soft_wrap=True)
        return 2
    return 0


def run() -> None:
    sys.exit(main())
