"""`costplane controller run|status`: the live loop on its own (serve runs the same loop in the background)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from costplane.cli._common import JsonOpt, console, emit_json, err_console, stop_on_signals
from costplane.core.errors import CostplaneError, InputError

controller_app = typer.Typer(help="The live control loop: observe, decide, store, act.", no_args_is_help=True)

DbOpt = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL (default: COSTPLANE_DB_URL or ~/.costplane).")]
ServicesOpt = Annotated[Path | None, typer.Option(help="Services YAML (default: bundled examples/services.yaml).")]
ActuatorOpt = Annotated[str, typer.Option(help="dry-run (default: record only) or kubernetes.")]
KubeHostOpt = Annotated[str | None, typer.Option("--kube-host", help="Kubernetes API URL (default: in-cluster, then kubeconfig).")]
ValidateOpt = Annotated[float, typer.Option("--validate-s", min=0.0, max=3600.0,
                                            help="Wait before acting on a scale-down, then re-decide; act only if it "
                                                 "still holds (0: off).")]
LeaseOpt = Annotated[str, typer.Option("--lease", help="Who may act: store (a row lease in the store), kubernetes "
                                       "(a coordination.k8s.io Lease), or auto (kubernetes in a cluster with the "
                                       "kubernetes actuator, else store).")]
MAX_INTERVAL_S = 86_400.0
SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


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


def lease_ttl_s(interval_s: float) -> float:
    """A holder that misses three cycles (and at least 30 s) has lost the lease."""
    return max(30.0, 3.0 * interval_s)


def build_lease(kind: str, store, actuator, ttl_s: float):
    """The store's row lease, or a Kubernetes Lease in the controller's namespace (`auto`: in a cluster)."""
    import os

    from costplane.controller import KubernetesLease, StoreLease

    if kind not in ("auto", "store", "kubernetes"):
        raise InputError(f"unknown lease {kind!r}", fix="use --lease auto, store or kubernetes")
    in_cluster = bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
    if kind == "store" or (kind == "auto" and not (in_cluster and actuator.name == "kubernetes")):
        return StoreLease(store, ttl_s)
    if actuator.name != "kubernetes":
        raise InputError("--lease kubernetes needs --actuator kubernetes (it uses the same cluster connection)",
                         fix="add --actuator kubernetes, or use --lease store")
    namespace = os.environ.get("COSTPLANE_NAMESPACE")
    if not namespace:
        try:
            namespace = Path(SERVICE_ACCOUNT_NAMESPACE).read_text().strip() or "default"
        except OSError:
            namespace = "default"
    return KubernetesLease(actuator.api_client, namespace, ttl_s)


def build_controller(db: str | None, services: Path | None, actuator: str, interval_s: float,
                     kube_host: str | None = None, validation_s: float | None = None, store=None, clock=None,
                     lease: str = "auto"):
    """The one way a live controller is put together (CLI `controller run` and `serve`)."""
    from costplane.controller import VALIDATION_S, AutoscaleDecide, Controller, load_services
    from costplane.core.clock import WallClock
    from costplane.examples import example_path
    from costplane.store import Store

    if not 0 < interval_s <= MAX_INTERVAL_S:
        raise InputError(f"--interval must be in (0, {MAX_INTERVAL_S:g}] s, got {interval_s:g}", fix="use --interval 60")
    store = store if store is not None else Store.open(db)
    specs = load_services(services or example_path("services.yaml"))
    act = build_actuator(actuator, kube_host)
    return Controller(store, clock or WallClock(), act, specs, AutoscaleDecide(),
                      interval_s=interval_s, validation_s=VALIDATION_S if validation_s is None else validation_s,
                      lease=build_lease(lease, store, act, lease_ttl_s(interval_s)))


def _log_to_stderr() -> None:
    """One line per decision and per cycle on stderr (the costplane.controller logger)."""
    logger = logging.getLogger("costplane.controller")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


@controller_app.command("run")
def run_cmd(
    db: DbOpt = None,
    services: ServicesOpt = None,
    actuator: ActuatorOpt = "dry-run",
    kube_host: KubeHostOpt = None,
    interval: Annotated[float, typer.Option(help="Seconds between cycles.")] = 60.0,
    validate_s: ValidateOpt = 15.0,
    lease: LeaseOpt = "auto",
    once: Annotated[bool, typer.Option("--once", help="Run one cycle and exit.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Observe demand, decide replicas with each service's policy, store the decision, then act."""
    controller = build_controller(db, services, actuator, interval, kube_host, validate_s, lease=lease)
    if not once:
        _log_to_stderr()
        err_console.print(f"controller: {len(controller.services)} services, every {interval:g} s, "
                          f"actuator {controller.actuator.name}, holder {controller.lease.holder}; Ctrl-C stops",
                          highlight=False, markup=False)
        stop = threading.Event()
        stop_on_signals(stop)
        controller.run_forever(stop)
        return
    try:
        rows = controller.run_cycle()
        if controller.last_cycle.get("standby"):
            raise CostplaneError(f"another controller ({controller.last_cycle['holder']}) holds this store's lease, "
                                 "so this run decided and acted on nothing",
                                 fix="stop the other controller (or `costplane serve --no-controller`), or let it act")
    finally:
        controller.release()
    data = [{"cycle": r.cycle_id, "target": r.target, "desired": r.desired, "reasons": r.reasons,
             "result": r.result} for r in rows]
    if as_json:
        emit_json({"actuator": controller.actuator.name, "decisions": data})
        return
    table = Table(title=f"controller cycle · actuator {controller.actuator.name}")
    for col in ("target", "current", "ready", "desired", "result", "why"):
        table.add_column(col)
    for d in data:
        table.add_row(d["target"], str(d["desired"].get("current")), str(d["desired"].get("ready")),
                      str(d["desired"]["replicas"]), d["result"] or "", "; ".join(d["reasons"])[:80])
    console.print(table)


@controller_app.command("status")
def status_cmd(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Who holds the controller lease, and each target's newest decision with its result."""
    from sqlalchemy import func, select

    from costplane.controller import read_lease
    from costplane.core.clock import WallClock
    from costplane.store import ControllerState, DecisionRow, Store

    store = Store.open(db, create=False)
    now_s = WallClock().now_s()
    lease = read_lease(store)
    with store.session() as s:
        newest = select(func.max(DecisionRow.id)).group_by(DecisionRow.target)
        rows = s.scalars(select(DecisionRow).where(DecisionRow.id.in_(newest)).order_by(DecisionRow.target)).all()
        states = s.scalar(select(func.count()).select_from(ControllerState)) or 0
        targets = [{"target": r.target, "team": r.team, "cycle": r.cycle_id, "decided_at_s": r.created_at_s,
                    "current": r.desired.get("current"), "ready": r.desired.get("ready"),
                    "desired": r.desired.get("replicas"), "policy": r.desired.get("policy"),
                    "actuated_at_s": r.actuated_at_s, "result": r.result, "reasons": list(r.reasons or [])}
                   for r in rows]
    out = {"lease": None if lease is None else {"holder": lease.holder, "acquired_at_s": lease.acquired_at_s,
                                                 "expires_at_s": lease.expires_at_s,
                                                 "active": lease.expires_at_s >= now_s},
           "services_with_state": int(states), "targets": targets}
    if as_json:
        emit_json(out)
        return
    if lease is None:
        console.print("lease: free (no controller is running on this store)")
    else:
        left = lease.expires_at_s - now_s
        console.print(f"lease: held by {lease.holder}, " + (f"renewal due within {left:.0f} s" if left >= 0
                                                             else f"expired {-left:.0f} s ago"), highlight=False)
    if not targets:
        console.print("no decisions yet: run `costplane controller run --once` or `costplane serve`")
        return
    table = Table(title=f"newest decision per target ({states} services with stored policy state)")
    for col in ("target", "cycle", "current", "ready", "desired", "result"):
        table.add_column(col)
    for t in targets:
        table.add_row(t["target"], t["cycle"], str(t["current"]), str(t["ready"]), str(t["desired"]),
                      t["result"] or "(not acted on yet)")
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(controller_app, name="controller")
