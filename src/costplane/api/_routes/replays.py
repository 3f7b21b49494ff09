"""Inference replays: a posted demand series through one policy, and every policy on the bundled trace."""

from __future__ import annotations

from fastapi import APIRouter, Request

from costplane.api import _analytics
from costplane.api._deps import CatalogDep, Viewer
from costplane.api._errors import error_responses
from costplane.api._schemas import ReplayComparePublic, ReplayCreate, ReplayPublic

router = APIRouter(tags=["replays"], responses=error_responses(400, 401, 403, 422))


@router.post("/replays", response_model=ReplayPublic)
def create_replay(_: Viewer, catalog: CatalogDep, body: ReplayCreate) -> dict:
    """Replay the demand through the policy: cost, service level, and the perfect-foresight oracle's cost."""
    return _analytics.replay_one(body.counts, body.step_s, body.service.model_dump(), body.policy, catalog,
                                 body.decision_interval_s)


@router.get("/replays/compare", response_model=ReplayComparePublic)
def compare_policies(_: Viewer, catalog: CatalogDep, request: Request) -> dict:
    """Every policy on the bundled Azure chat trace and service (computed once per process)."""
    return _analytics.compare_bundled(request.app.state, catalog)
