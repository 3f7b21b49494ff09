"""Service settings: plain values passed to `create_app` (no environment reads inside the app)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_PAGE_LIMIT = 100
MAX_PAGE_LIMIT = 1000
RATE_WINDOW_S = 3600.0  # cost rates (/metrics) are averaged over the last hour of cost lines


@dataclass(frozen=True)
class Settings:
    """What the service needs besides its store and clock.

    `catalog_path`: project CSV or SkyPilot v8 directory (None = bundled snapshot).
    `rate_window_s`: the window the /metrics cost rates average over, seconds.
    `dashboard`: serve the web dashboard at `/`.
    `public_metrics`: /metrics without a token, showing no team, project, workload, target or budget
    label values (default: /metrics needs a token, like /api/v1).
    `max_body_bytes`: larger request bodies are a 413 before authentication and parsing.
    `rate_per_s`, `burst`: per-token token bucket (429 beyond it; 0 = no limit).
    `tls`: the server runs https (responses carry HSTS).
    `webhook_allow_hosts`: webhook hosts allowed although they resolve to private addresses.
    `discounts_path`, `mapping_path`: the pricing inputs of `costplane cost --discounts --mapping` (the
    mapping file's `nodes:` section names each node's instance type, cloud and region), so /cost, /spend,
    budgets, /waste, /allocation, /metrics and the dashboard price series as the CLI does.
    """

    catalog_path: Path | None = None
    rate_window_s: float = RATE_WINDOW_S
    dashboard: bool = True
    title: str = "costplane"
    public_metrics: bool = False
    max_body_bytes: int = 4 * 1024 * 1024
    rate_per_s: float = 1000.0
    burst: int = 2000
    tls: bool = False
    webhook_allow_hosts: tuple[str, ...] = ()
    discounts_path: Path | None = None
    mapping_path: Path | None = None
