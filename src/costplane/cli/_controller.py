"""`costplane controller run`: the live loop on its own (serve runs the same loop in the background)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from costplane.cli._common import JsonOpt, console, emit_json
from costplane.core.errors import InputError

controller_app = typer.Typer(help="The live control loop: observe, decide, store, act.", no_args_is_help=True)


def build_actuator(kind: str, kube_host: str | None = None):
    from costplane.actuate import DryRunActuator, KubernetesActuator

    if kind == "dry-run":
        return DryRunActuator()
    if kind == "kubernetes":
        api_client = None
        if kube_host:
            from kubernetes import client

            configuration = client.Configuration()
            configuration.host = kube_host
            api_client = client.ApiClient(configuration)
        return KubernetesActuator(api_client)
    raise InputError(f"unknown actuator {kind!r}", fix="use --actuator dry-run or --actuator kubernetes")


def build_controller(db: str | None, services: Path | None, actuator: str, interval_s: float,
                     kube_host: str | None = None):
    from costplane.examples import example_path
    from costplane.controller import AutoscaleDecide, Controller, load_services
    from costplane.core.clock import WallClock
    from costplane.store import Store

    store = Store.open(db)
    specs = load_services(services or example_path("services.yaml"))
    return Controller(store, WallClock(), build_actuator(actuator, kube_host), specs, AutoscaleDecide(),
                      interval_s=interval_s)


@controller_app.command("run")
def run_cmd(
    db: Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL (default: COSTPLANE_DB_URL or ~/.costplane).")] = None,
    services: Annotated[Path | None, typer.Option(help="Services YAML (default: bundled examples/services.yaml).")] = None,
    actuator: Annotated[str, typer.Option(help="dry-run (default: record only) or kubernetes.")] = "dry-run",
    kube_host: Annotated[str | None, typer.Option("--kube-host", help="Kubernetes API URL (default: kubeconfig).")] = None,
    interval: Annotated[float, typer.Option(help="Seconds between cycles.")] = 60.0,
    once: Annotated[bool, typer.Option("--once", help="Run one cycle and exit.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Observe demand, decide replicas with each service's policy, store the decision, then act."""
    controller = build_controller(db, services, actuator, interval, kube_host)
    if not once:
        console.print(f"controller: {len(controller.services)} services, every {interval:g} s, "
                      f"actuator {controller.actuator.name}; Ctrl-C stops")
        stop = threading.Event()
        try:
            controller.run_forever(stop)
        except KeyboardInterrupt:
            stop.set()
        return
    rows = controller.run_cycle()
    data = [{"cycle": r.cycle_id, "target": r.target, "desired": r.desired, "reasons": r.reasons,
             "result": r.result} for r in rows]
    if as_json:
        emit_json({"actuator": controller.actuator.name, "decisions": data})
        return
    table = Table(title=f"controller cycle · actuator {controller.actuator.name}")
    for col in ("target", "current", "desired", "result", "why"):
        table.add_column(col)
    for d in data:
        table.add_row(d["target"], str(d["desired"].get("current")), str(d["desired"]["replicas"]), d["result"] or "",
                      "; ".join(d["reasons"])[:80])
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(controller_app, name="controller")
