"""The web dashboard: one static page and its script, served from package data (no CDN, no build step).

The page holds no data: its script calls /api/v1 with the user's token (from `?token=` once, then
localStorage), so a team-scoped token sees exactly what the API lets it see. The script finds
routes by operation id in /openapi.json, and panels whose route this build lacks are not shown.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = resources.files("costplane.api") / "static"


def mount_dashboard(app: FastAPI) -> None:
    index_html = (STATIC_DIR / "index.html").read_text()

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    def dashboard() -> HTMLResponse:
        return HTMLResponse(index_html, headers={"Cache-Control": "no-store"})

    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
