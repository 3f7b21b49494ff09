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
    """

    catalog_path: Path | None = None
    rate_window_s: float = RATE_WINDOW_S
    dashboard: bool = True
    title: str = "costplane"
