"""`create_app(settings, store, clock)`: the FastAPI app with its routers, error handlers, metrics and dashboard.

Nothing is created at import time. Optional parts (forecasts, replays, cost attribution, waste,
controller actuation) are mounted only when their package is installed, so the OpenAPI document
lists exactly what this build serves.
"""

from __future__ import annotations

import importlib
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from costplane.api._analytics import ResultCache
from costplane.api._deps import StoreDep, bearer, current_principal
from costplane.api._errors import error_responses, install_error_handlers
from costplane.api._metrics import HttpMetrics, new_registry
from costplane.api._routes import admin, budgets, catalog, decisions, plans, spend
from costplane.api._schemas import HealthPublic
from costplane.api._security import BodyLimit, RateLimiter, SecurityHeaders, metrics_view
from costplane.api._settings import Settings
from costplane.api._tokens import TokenCache
from costplane.core.clock import Clock, WallClock
from costplane.core.errors import StoreError
from costplane.store import Store

API_PREFIX = "/api/v1"
# Routers that exist only when the package they call exists: (router module, package it needs).
OPTIONAL_ROUTERS: tuple[tuple[str, str], ...] = (
    ("costplane.api._routes.forecasts", "costplane.forecast"),
    ("costplane.api._routes.replays", "costplane.replay"),
    ("costplane.api._routes.cost", "costplane.attribute"),
    ("costplane.api._routes.waste", "costplane.waste"),
    ("costplane.api._routes.controller", "costplane.controller"),
    ("costplane.api._serveplan", "costplane.serveplan"),
    ("costplane.api._allocation", "costplane.costing"),
)


def _operation_id(route: APIRoute) -> str:
    """`tag-name`, e.g. `budgets-list_budgets`: stable ids the dashboard's client looks routes up by."""
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def _optional_routers() -> list[APIRouter]:
    routers = []
    for module_name, needs in OPTIONAL_ROUTERS:
        try:
            importlib.import_module(needs)
            module = importlib.import_module(module_name)
        except ImportError:
            continue  # that part of costplane is not in this build: its routes are left out
        routers.append(module.router)
    return routers


def create_app(settings: Settings | None = None, store: Store | None = None, clock: Clock | None = None) -> FastAPI:
    """Build the service on `store` (default: the configured database) with `clock` (default: wall time)."""
    settings = settings or Settings()
    store = store or Store.open()
    clock = clock or WallClock()
    app = FastAPI(title=f"{settings.title} API", version="1",
                  description="Cost-control plane for GPU infrastructure. Send `Authorization: Bearer TOKEN` "
                              "to /api/v1 routes; errors are `{error: {code, message, fix}}`.",
                  generate_unique_id_function=_operation_id, openapi_url="/openapi.json",
                  docs_url=None, redoc_url=None)  # Swagger UI loads from a CDN: useless offline
    app.state.settings, app.state.store, app.state.clock = settings, store, clock
    app.state.catalog = None
    if settings.discounts_path is not None or settings.mapping_path is not None:
        from costplane.api._deps import pricing_inputs

        app.state.catalog = pricing_inputs(settings)[0]  # a bad discounts or mapping file fails here, not per request
    app.state.controller_running = False
    app.state.controller = None  # set by `costplane serve` when the control loop runs in this process
    app.state.registry = new_registry(store, clock, settings)
    app.state.cache = ResultCache()
    app.state.token_cache = TokenCache()
    app.state.rate_limiter = RateLimiter(settings.rate_per_s, settings.burst)
    install_error_handlers(app)

    @app.get("/healthz", response_model=HealthPublic, tags=["system"], responses=error_responses(503))
    def healthz() -> dict:
        """Liveness and database reachability; needs no token."""
        try:
            with store.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any driver failure means "not healthy", reported in the error shape
            raise StoreError(f"database {store.url} is unreachable: {exc.__class__.__name__}",
                             fix="check the database") from None
        return {"status": "ok", "database": "ok", "controller": bool(app.state.controller_running)}

    @app.get("/metrics", tags=["system"], response_class=Response,
             responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"},
                        **error_responses(401, 429)})
    async def metrics(store: StoreDep, request: Request,
                      creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Response:
        """Prometheus exposition of cost, utilisation, controller, budget and HTTP metrics.

        Needs a bearer token (Prometheus `authorization: {credentials: TOKEN}`); a team token sees its
        team's series. With `serve --public-metrics`, a request without a token gets only the series
        that name no team, project, workload, target or budget.
        """
        if creds is None and settings.public_metrics:
            view = metrics_view(app.state.registry, None, public=True)
        else:
            principal = await current_principal(store, request, creds)
            view = metrics_view(app.state.registry, principal.team, public=False)
        body = await run_in_threadpool(generate_latest, view)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    v1 = APIRouter(prefix=API_PREFIX)
    for router in (admin.system_router, admin.router, admin.audit_router, catalog.router, catalog.placement_router, plans.router,
                   budgets.router, decisions.router, spend.router, *_optional_routers()):
        v1.include_router(router)
    app.include_router(v1)
    from costplane.api._allocation import root_router as opencost_paths

    app.include_router(opencost_paths)  # OpenCost's own /allocation paths, for clients pointed at this host
    if settings.dashboard:
        from costplane.api._dashboard import mount_dashboard

        mount_dashboard(app)
    app.add_middleware(HttpMetrics, registry=app.state.registry, prefixes=(API_PREFIX,))
    # Added last = runs first: the size limit precedes everything; the headers go on every response.
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders, hsts=settings.tls)
    return app
