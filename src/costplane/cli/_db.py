"""`costplane db`: create or upgrade the schema (Alembic) and show where the store is and what it holds."""

from __future__ import annotations

from typing import Annotated

import typer

from costplane.cli._common import JsonOpt, console, emit_json

DbOpt = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL (default: COSTPLANE_DB_URL or ~/.costplane SQLite).")]

db_app = typer.Typer(help="Database schema and status.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade_cmd(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Create or migrate the schema to the newest revision."""
    from costplane.store import Store, current_revision

    store = Store.open(db)
    revision = current_revision(store.engine)
    if as_json:
        emit_json({"url": store.url, "revision": revision})
        return
    console.print(f"{store.url}: schema at revision {revision}")


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


@db_app.command("purge-demo")
def purge_demo_cmd(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Delete the demo data `serve --seed` loaded (rows with source demo-seed); nothing else is touched."""
    from sqlalchemy import delete

    from costplane.costing import DEMO_SOURCE
    from costplane.store import CostRecord, Store, UsageHourly, UsageSample

    store = Store.open(db)
    with store.session() as s:  # the samples' hourly roll-up goes with them, in the same transaction
        removed = {m.__tablename__: s.execute(delete(m).where(m.source == DEMO_SOURCE)).rowcount or 0
                   for m in (CostRecord, UsageSample, UsageHourly)}
    if as_json:
        emit_json({"url": store.url, "removed": removed})
        return
    console.print(f"{store.url}: removed demo data ({removed['cost_records']} cost lines, "
                  f"{removed['usage_samples']} usage samples)")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
