"""`costplane catalog`: list and filter offers, list GPU names, and import a SkyPilot catalog."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from costplane.catalog import import_skypilot_dir, load_catalog, write_catalog_csv
from costplane.cli._common import CatalogOpt, DiscountsOpt, Finite, JsonOpt, console, emit_json, money
from costplane.core.errors import InputError
from costplane.core.gpus import resolve_gpu


def catalog_cmd(
    catalog: CatalogOpt = None,
    discounts: DiscountsOpt = None,
    gpu: Annotated[str | None, typer.Option(help="GPU model, e.g. H100, A100-80GB, L4.")] = None,
    cloud: Annotated[list[str] | None, typer.Option(help="Cloud(s) to keep (repeatable).")] = None,
    region: Annotated[list[str] | None, typer.Option(help="Region(s) to keep (repeatable).")] = None,
    gpus_known: Annotated[bool, typer.Option("--gpus-known", help="List the normalised GPU names.")] = False,
    limit: Annotated[int, typer.Option(help="Rows in the table (JSON has all).", parser=Finite(0, 1_000_000, whole=True))] = 40,
    as_json: JsonOpt = False,
) -> None:
    """List GPU offers of the price catalog, cheapest first."""
    cat = load_catalog(catalog, discounts)
    if gpus_known:
        names = list(cat.gpu_models)
        if as_json:
            emit_json({"as_of": cat.as_of, "source": cat.source, "gpus": names})
        else:
            console.print("\n".join(names))
        return
    model = resolve_gpu(gpu, cat.gpu_models) if gpu else None
    clouds = tuple(c.lower() for c in cloud or ())
    sub = cat.filter(model, clouds, tuple(region or ()))
    offers = sorted(sub.offers, key=lambda o: (o.price_usd_per_hour is None, o.price_usd_per_hour or 0.0))
    if as_json:
        emit_json({"as_of": cat.as_of, "source": cat.source, "discounts": list(cat.discounts_applied),
                   "count": len(offers), "offers": [o.to_dict() for o in offers]})
        return
    table = Table(title=f"{len(offers)} offers · {cat.source} · as of {cat.as_of}")
    for col in ("cloud", "region", "zone", "instance", "gpu", "GiB", "gpus", "vCPUs", "$/h", "spot $/h"):
        table.add_column(col, justify="right" if col in ("GiB", "gpus", "vCPUs", "$/h", "spot $/h") else "left")
    for o in offers[:limit]:
        table.add_row(o.cloud, o.region, o.zone or "", o.instance_type, o.gpu, f"{o.gpu_memory_gib:g}", str(o.gpus),
                      f"{o.vcpus:g}", money(o.price_usd_per_hour), money(o.spot_price_usd_per_hour))
    console.print(table)


def import_cmd(
    source: Annotated[Path, typer.Argument(help="SkyPilot v8 catalog directory (<cloud>/vms.csv).")],
    out: Annotated[Path, typer.Option(help="Where to write the project-schema CSV.")],
    as_of: Annotated[str | None, typer.Option(help="Snapshot date to record (default: today).")] = None,
    source_note: Annotated[str | None, typer.Option("--source-note", help="Provenance text to record.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Import a SkyPilot v8 catalog directory into the project's compact CSV schema."""
    if not source.is_dir():
        raise InputError(f"{source} is not a directory", fix="pass a SkyPilot v8 catalog directory")
    offers = import_skypilot_dir(source)
    n = write_catalog_csv(offers, out, as_of or date.today().isoformat(),
                          source_note or f"SkyPilot v8 catalog imported from {source.name}")
    if as_json:
        emit_json({"source": str(source), "out": str(out), "offers": n})
        return
    console.print(f"wrote {n} offers to {out}")


def register(app: typer.Typer) -> None:
    app.command("catalog")(catalog_cmd)
    app.command("catalog-import")(import_cmd)
