"""`costplane serve` (API, dashboard, /metrics and the controller in one process) and `costplane token`.

On a fresh store, `serve` issues the first admin token and writes it only to
$COSTPLANE_HOME/admin-token (mode 0600); it says where, and how to create more: only `token create`
prints a token. `--tls-cert/--tls-key` serve https (with HSTS); /metrics needs a bearer token unless
`--public-metrics` (then it shows no team, project, workload or budget names). With `--seed` (opt-in) it loads the bundled demo data (see
costplane.api._seed), marked `source = demo-seed`: never counted by budgets or alerts, and removed
with `costplane db purge-demo`. Without it the store holds only what the user put there.
`--catalog`, `--discounts` and `--mapping` (its `nodes:` section) price the store's GPU series for /cost,
/spend, budgets, /waste, /allocation, /metrics and the dashboard exactly as `costplane cost` does with them.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from costplane.cli._common import CatalogOpt, DiscountsOpt, JsonOpt, console, emit_json, err_console
from costplane.cli._measure import MappingOpt
from costplane.core.errors import InputError

DbOpt = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL (default: COSTPLANE_DB_URL or ~/.costplane SQLite).")]
ADMIN_TOKEN_FILE = "admin-token"
CONTROLLER_RETRY_S = 30.0  # after a failed cycle, wait this long before the loop tries again

token_app = typer.Typer(help="API tokens: create (shown once), list, revoke.", no_args_is_help=True)


def _write_admin_token(secret: str) -> Path:
    from costplane.store._engine import data_dir

    path = data_dir() / ADMIN_TOKEN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret + "\n")
    os.chmod(path, 0o600)  # also when the file existed with wider permissions
    return path


def _start_controller(store, clock, services: Path | None, interval_s: float, stop: threading.Event,
                      actuator: str = "dry-run", kube_host: str | None = None, validation_s: float | None = None):
    """The control loop in a daemon thread, when this build has it; returns the Controller or None."""
    try:
        from costplane.cli._controller import build_controller
    except ImportError:
        return None

    controller = build_controller(None, services, actuator, interval_s, kube_host, validation_s, store=store,
                                  clock=clock)
    # The loop and POST /api/v1/controller/cycles share this controller: run_cycle takes one cycle at a time.

    def loop() -> None:
        while not stop.is_set():
            try:
                controller.run_forever(stop)
            except Exception as exc:  # one bad cycle must not take the API down; it is retried
                err_console.print(f"controller: cycle failed: {exc}; retrying in {CONTROLLER_RETRY_S:g} s",
                                  highlight=False, markup=False)
                stop.wait(CONTROLLER_RETRY_S)

    thread = threading.Thread(target=loop, name="costplane-controller", daemon=True)
    thread.start()
    return controller


def serve_cmd(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    db: DbOpt = None,
    catalog: CatalogOpt = None,
    discounts: DiscountsOpt = None,
    mapping: MappingOpt = None,
    seed: Annotated[bool, typer.Option("--seed/--no-seed", help="Load the bundled demo data (marked as demo, never "
                                       "counted by budgets; `costplane db purge-demo` removes it).")] = False,
    controller: Annotated[bool, typer.Option("--controller/--no-controller", help="Run the control loop (see --actuator).")] = True,
    services: Annotated[Path | None, typer.Option(help="Services YAML for the controller (default: bundled).")] = None,
    interval: Annotated[float, typer.Option(help="Seconds between controller cycles.", min=1.0)] = 60.0,
    actuator: Annotated[str, typer.Option(help="Controller actuator: dry-run (record only) or kubernetes.")] = "dry-run",
    kube_host: Annotated[str | None, typer.Option("--kube-host", help="Kubernetes API URL (default: in-cluster, "
                                                  "then kubeconfig).")] = None,
    validate_s: Annotated[float, typer.Option("--validate-s", min=0.0, max=3600.0, help="Wait before acting on a "
                                              "scale-down, then re-decide (0: off).")] = 15.0,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="PEM certificate: serve https.")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="PEM private key of --tls-cert.")] = None,
    public_metrics: Annotated[bool, typer.Option("--public-metrics", help="Serve /metrics without a token, "
                                                 "without team, project, workload or budget names.")] = False,
    rate_limit: Annotated[float, typer.Option("--rate-limit", min=0.0, help="Requests per second per API token "
                                              "(burst 2x; 0 = no limit).")] = 1000.0,
    webhook_allow_host: Annotated[list[str] | None, typer.Option("--webhook-allow-host", help="A webhook host "
                                  "allowed although it resolves to a private address (repeatable; also "
                                  "COSTPLANE_WEBHOOK_ALLOW_HOSTS).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the startup info as one JSON line on stdout "
                                          "(url, store, controller) before serving.")] = False,
) -> None:
    """Serve the REST API (/api/v1), the dashboard (/), /metrics and /healthz, with the controller running."""
    import uvicorn

    from costplane.api import Settings, create_app, ensure_admin_token
    from costplane.core.clock import WallClock
    from costplane.store import Store

    store = Store.open(db)
    clock = WallClock()
    if (tls_cert is None) != (tls_key is None):
        raise InputError("--tls-cert and --tls-key go together", fix="pass both, or neither for plain http")
    for path in (tls_cert, tls_key):
        if path is not None and not path.is_file():
            raise InputError(f"TLS file {path} does not exist", fix="pass the PEM certificate and key files")
    issued = ensure_admin_token(store, clock.now_s())
    if issued is not None:  # the secret goes to the 0600 file only: stderr ends up in logs
        path = _write_admin_token(issued.secret)
        err_console.print(f"first start: an admin token was written to {path} (mode 0600); create others with "
                          "`costplane token create --name NAME --role viewer|operator|admin [--team TEAM]`",
                          highlight=False, markup=False, soft_wrap=True)
    settings = Settings(catalog_path=catalog, public_metrics=public_metrics, tls=tls_cert is not None,
                        rate_per_s=rate_limit, burst=max(1, int(2 * rate_limit)),
                        webhook_allow_hosts=tuple(webhook_allow_host or ()), discounts_path=discounts,
                        mapping_path=mapping)
    app = create_app(settings, store, clock)  # reads --catalog/--discounts/--mapping now: a bad file stops here
    if seed:
        from costplane.api._seed import seed_demo
        from costplane.catalog import load_catalog

        added = seed_demo(store, load_catalog(catalog), clock.now_s())
        if added["cost_records"]:
            err_console.print(f"seeded demo data: {added['cost_records']} cost lines, {added['usage_samples']} "
                              "usage samples (source demo-seed; remove with `costplane db purge-demo`)", highlight=False)
    stop = threading.Event()
    if controller:
        app.state.controller = _start_controller(store, clock, services, interval, stop, actuator, kube_host, validate_s)
        app.state.controller_running = app.state.controller is not None
    scheme = "https" if tls_cert else "http"
    err_console.print(f"costplane serving on {scheme}://{host}:{port}/ (store {store.url})", highlight=False)
    if as_json:
        sys.stdout.write(json.dumps({"url": f"{scheme}://{host}:{port}/", "store": store.url,
                                     "controller": bool(getattr(app.state, "controller", None)),
                                     "seeded": seed}) + "\n")
        sys.stdout.flush()
    tls = {"ssl_certfile": str(tls_cert), "ssl_keyfile": str(tls_key)} if tls_cert else {}
    try:
        # Idle keep-alive connections close after 5 s; request bodies are bounded by the app (413).
        uvicorn.run(app, host=host, port=port, log_level="warning", timeout_keep_alive=5, **tls)
    finally:
        stop.set()
        if getattr(app.state, "controller", None) is not None:
            app.state.controller.release()  # a standby elsewhere takes over at once


@token_app.command("create")
def token_create_cmd(
    name: Annotated[str, typer.Option(help="A unique name, e.g. the person or system using it.")],
    role: Annotated[str, typer.Option(help="viewer (read), operator (also change and actuate) or admin (also tokens).")] = "viewer",
    team: Annotated[str | None, typer.Option(help="Scope the token to one team (default: all teams).")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API token and print its secret once (only its SHA-256 is stored)."""
    from costplane.api import create_token
    from costplane.core.clock import WallClock
    from costplane.store import Store

    issued = create_token(Store.open(db), name, role, team, WallClock().now_s(), actor="cli")
    if as_json:
        emit_json({"id": issued.id, "name": issued.name, "role": issued.role, "team": issued.team,
                   "token": issued.secret})
        return
    err_console.print(f"token {issued.name!r} ({issued.role}{', team ' + issued.team if issued.team else ''}); "
                      "store it now, it is not shown again:", highlight=False, markup=False)
    console.print(issued.secret, highlight=False, markup=False, soft_wrap=True)


@token_app.command("list")
def token_list_cmd(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """List tokens (names, roles, teams; never secrets)."""
    from costplane.api._tokens import list_tokens
    from costplane.store import Store

    rows, _ = list_tokens(Store.open(db, create=False), limit=10_000, offset=0)
    data = [{"id": r.id, "name": r.name, "role": r.role, "team": r.team, "revoked": r.revoked} for r in rows]
    if as_json:
        emit_json({"tokens": data})
        return
    table = Table(title="API tokens")
    for col in ("id", "name", "role", "team", "revoked"):
        table.add_column(col)
    for d in data:
        table.add_row(str(d["id"]), d["name"], d["role"], d["team"] or "(all)", "yes" if d["revoked"] else "")
    console.print(table)


@token_app.command("revoke")
def token_revoke_cmd(token_id: Annotated[int, typer.Argument(help="Token id (see `costplane token list`).")],
                     db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Revoke a token: it stops working at once."""
    from costplane.api._tokens import revoke_token
    from costplane.core.clock import WallClock
    from costplane.store import Store

    row = revoke_token(Store.open(db, create=False), token_id, WallClock().now_s(), actor="cli")
    if as_json:
        emit_json({"id": row.id, "name": row.name, "revoked": True})
        return
    console.print(f"revoked token {row.id} ({row.name})", highlight=False)


def register(app: typer.Typer) -> None:
    from costplane.cli import _export

    app.command("serve")(serve_cmd)
    app.add_typer(token_app, name="token")
    _export.register(app)  # sharing the store's data safely belongs with serving it


def demo_serve() -> None:
    console.print("[bold]serve[/]: `costplane serve` starts the API, dashboard and controller on "
                  "http://127.0.0.1:8000/ (first start writes an admin token to $COSTPLANE_HOME/admin-token; `--seed` loads demo data)")
