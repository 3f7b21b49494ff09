"""`costplane place` (cheapest offers for one request) and `costplane plan` (fleet MILP)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from costplane.catalog import load_catalog
from costplane.cli._common import CatalogOpt, DiscountsOpt, Finite, JsonOpt, console, emit_json, money
from costplane.core.files import read_structured
from costplane.placement import PlacementRequest, place, plan_fleet, read_fleet_spec

SkyYamlOpt = Annotated[Path | None, typer.Option(
    "--sky-yaml", help="Also write the choice as a SkyPilot task file here (`sky launch FILE`).")]


def place_cmd(
    gpu: Annotated[str | None, typer.Option(help="GPU model (normalised name, e.g. H100).")] = None,
    gpus: Annotated[int, typer.Option(help="GPUs per node (1..1024).", parser=Finite(1, 1024, whole=True))] = 1,
    nodes: Annotated[int, typer.Option(help="Number of nodes (1..100000).", parser=Finite(1, 100_000, whole=True))] = 1,
    hours: Annotated[float, typer.Option(help="How long it runs, hours (> 0, <= 1e5).", parser=Finite(0, 1e5, open_lo=True))] = 1.0,
    min_gpu_memory: Annotated[float, typer.Option("--min-gpu-memory", help="Minimum GiB per GPU.", parser=Finite(0, 1e5))] = 0.0,
    min_vcpus: Annotated[float, typer.Option("--min-vcpus", help="Minimum vCPUs per node.", parser=Finite(0, 1e5))] = 0.0,
    min_memory: Annotated[float, typer.Option("--min-memory", help="Minimum GiB RAM per node.", parser=Finite(0, 1e7))] = 0.0,
    spot: Annotated[bool, typer.Option("--spot", help="Rank spot offers alongside on-demand.")] = False,
    any_host: Annotated[bool, typer.Option("--any-host", help="Rank every offer, also hosts below the per-GPU minimums "
                                           "(4 vCPUs and 16 GiB per datacenter GPU; see docs/placement.md).")] = False,
    cloud: Annotated[list[str] | None, typer.Option(help="Allowed cloud (repeatable).")] = None,
    region: Annotated[list[str] | None, typer.Option(help="Allowed region (repeatable).")] = None,
    limit: Annotated[int, typer.Option(help="How many offers to return.", parser=Finite(1, 100_000, whole=True))] = 20,
    catalog: CatalogOpt = None,
    discounts: DiscountsOpt = None,
    sky_yaml: SkyYamlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cheapest feasible offers for one request, ranked by total cost."""
    request = PlacementRequest(gpu, gpus, nodes, hours, min_gpu_memory, min_vcpus, min_memory,
                               tuple(c.lower() for c in cloud or ()), tuple(region or ()), spot,
                               host_minimums=not any_host)
    cat = load_catalog(catalog, discounts)
    offers = place(request, cat, limit=limit)
    if sky_yaml is not None and offers:
        best = offers[0]
        _write_sky(sky_yaml, f"costplane-{best.gpu.lower()}-{best.gpus_per_node}x{best.nodes}", best, best.gpus_per_node,
                   catalog, f"${best.hourly_usd:.4f}/h for {best.nodes} node(s), ${best.total_usd:.2f} for {hours:g} h")
    if as_json:
        emit_json({"request": request.to_dict(), "catalog": {"as_of": cat.as_of, "source": cat.source},
                   "offers": [p.to_dict() for p in offers]})
        return
    table = Table(title=f"cheapest placements for {nodes} × {gpus} {gpu or ''} for {hours:g} h")
    for col in ("#", "cloud", "region", "zone", "instance", "gpu", "nodes", "spot", "$/h", "total"):
        table.add_column(col, justify="right" if col in ("#", "nodes", "$/h", "total") else "left")
    for i, p in enumerate(offers, 1):
        table.add_row(str(i), p.cloud, p.region, p.zone or "", p.instance_type, f"{p.gpus_per_node}×{p.gpu}",
                      str(p.nodes), "spot" if p.spot else "", money(p.hourly_usd), money(p.total_usd))
    console.print(table)


def _write_sky(path: Path, name: str, choice, gpus_per_node: int, catalog: str | Path | None, priced: str) -> None:
    """The chosen offer as a SkyPilot task (`resources`: infra, instance_type, accelerators, use_spot)."""
    from costplane.catalog import sky_task, sky_warning, write_sky_task
    from costplane.cli._common import err_console

    catalog_dir = Path(catalog) if catalog and Path(catalog).is_dir() else None
    task = sky_task(name=name, cloud=choice.cloud, region=choice.region, instance_type=choice.instance_type,
                    gpu=choice.gpu, gpus_per_node=gpus_per_node, nodes=choice.nodes, spot=choice.spot,
                    catalog_dir=catalog_dir)
    zone = f", zone {choice.zone}" if choice.zone else ""
    write_sky_task(path, task, f"SkyPilot task written by costplane: {choice.cloud} {choice.region}{zone} "
                               f"{choice.instance_type} {'spot' if choice.spot else 'on-demand'}, {priced}")
    warning = sky_warning(task)
    if warning:
        err_console.print(f"warning: {warning}", highlight=False, markup=False, soft_wrap=True)


def plan_cmd(
    file: Annotated[Path, typer.Argument(help="Fleet plan, YAML or JSON (workloads, quotas, default_cloud).")],
    catalog: CatalogOpt = None,
    discounts: DiscountsOpt = None,
    save: Annotated[bool, typer.Option("--save", help="Store the plan and its inputs in the database.")] = False,
    db: Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL for --save.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Place many workloads jointly at minimum cost under quotas (integer program, HiGHS)."""
    spec = read_fleet_spec(file)
    cat = load_catalog(catalog, discounts)
    plan = plan_fleet(spec, cat)
    if save:
        _save_plan(plan, file, cat, db)
    if as_json:
        emit_json(plan.to_dict())
        return
    table = Table(title=f"fleet plan: {len(plan.assignments)} workloads · status {plan.status}")
    for col in ("workload", "cloud", "region", "instance", "gpu", "nodes", "spot", "$/h", "total"):
        table.add_column(col, justify="right" if col in ("nodes", "$/h", "total") else "left")
    for name, p in plan.assignments:
        table.add_row(name, p.cloud, p.region, p.instance_type, f"{p.gpus_per_node}×{p.gpu}", str(p.nodes),
                      "spot" if p.spot else "", money(p.hourly_usd), money(p.total_usd))
    console.print(table)
    saved = plan.naive_total_usd - plan.total_usd
    pct = 100 * saved / plan.naive_total_usd if plan.naive_total_usd else 0.0
    console.print(f"optimal total {money(plan.total_usd)} vs naive {money(plan.naive_total_usd)} "
                  f"(each on {spec.default_cloud}'s cheapest on-demand): saves {money(saved)} ({pct:.1f} %)")
    for label, used, limit in plan.quota_use:
        console.print(f"  {label}: {used:g} of {limit:g} GPUs used")


def _save_plan(plan, file: Path, cat, db: str | None) -> None:
    from costplane.cli._common import err_console
    from costplane.store import Store

    store = Store.open(db)
    plan_id = store.save_plan(plan.to_dict(), read_structured(file, "plan file"), cat.source)
    err_console.print(f"saved plan {plan_id} to {store.url}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("place")(place_cmd)
    app.command("plan")(plan_cmd)


def demo_place() -> None:
    console.print("[bold]place[/]: 8 × H100 for 10 hours, on-demand or spot, any cloud")
    place_cmd(gpu="H100", gpus=8, hours=10.0, spot=True, limit=8)


def demo_plan() -> None:
    from costplane.examples import example_path

    console.print("[bold]plan[/]: the bundled fleet (examples/fleet.yaml) under a Lambda H100 quota, "
                  "saved to the default store")
    plan_cmd(example_path("fleet.yaml"), save=True)
