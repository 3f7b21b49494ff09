"""`costplane export`: usage, cost and decisions written for sharing, names masked (HMAC) and times shifted."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from costplane.cli._common import JsonOpt, console, emit_json

DbOpt = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL (default: COSTPLANE_DB_URL or ~/.costplane SQLite).")]


def export_cmd(
    out: Annotated[Path, typer.Option("--out", help="Folder for usage.csv, cost.csv and decisions.csv.")],
    key_file: Annotated[Path | None, typer.Option("--key-file", help="HMAC key (created 0600 when missing): the same "
                                                  "key masks a name the same way in every export. Default: a "
                                                  "fresh random key, never saved.")] = None,
    shift_s: Annotated[float | None, typer.Option("--shift-s", help="Subtract this many seconds from every time "
                                                  "(default: the earliest exported time, so files start at 0).")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Export the store for sharing: team, project, workload, namespace and host names masked, times shifted."""
    from costplane.store import Store
    from costplane.store._export import export_masked, load_key

    result = export_masked(Store.open(db, create=False), out, load_key(key_file), shift_s)  # reading creates nothing
    if as_json:
        emit_json(result)
        return
    files = ", ".join(f"{name} ({n} rows)" for name, n in result["files"].items())
    console.print(f"wrote {files} to {result['out']}; names masked with HMAC-SHA256, times shifted by "
                  f"{result['shift_s']:.0f} s", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.command("export")(export_cmd)
