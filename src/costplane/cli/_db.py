"""`costplane db`: create or upgrade the schema (Alembic) and show where the store is and what it holds."""

from __future__ import annotations

from typing import Annotated

import typer

from costplane.cli._common import JsonOpt, console, emit_json

DbOpt = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL (default: COSTPLANE_DB_URL or ~/.costplane SQLite).")]

db_app = typer.Typer(help="Database schema and status.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade_cmd(db: DbOpt = None) -> None:
    """Create or migrate the schema to the newest revision."""
    from costplane.store import Store, current_revision

    store = Store.open(db)
    console.print(f"{store.url}: schema at revision {current_revision(store.engine)}")


@db_app.command("status")
def status_cmd(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Show the database URL, schema revision and row counts."""
    from costplane.store import CostRecord, DecisionRow, PlanRow, Store, UsageSample, current_revision
    from costplane.store.models import CatalogVersion

    store = Store.open(db, create=False)
    counts = {m.__tablename__: store.count(m) for m in (CatalogVersion, PlanRow, UsageSample, CostRecord, DecisionRow)}
    info = {"url": store.url, "revision": current_revision(store.engine), "rows": counts}
    if as_json:
        emit_json(info)
        return
    console.print(f"{info['url']} (revision {info['revision']})")
    for table, n in counts.items():
        console.print(f"  {table}: {n}")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
