"""Run one controller cycle now (operator): decide, store and actuate, audited with the caller's name.

A team-scoped operator's cycle covers only its team's services: it neither decides nor actuates nor
returns another team's (`POST` by a token of team `research` touches research's deployments only).
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from costplane.api import _audit
from costplane.api._deps import ClockDep, Operator, StoreDep
from costplane.api._errors import Conflict, error_responses
from costplane.api._schemas import ControllerRunPublic

router = APIRouter(tags=["controller"], responses=error_responses(401, 403, 409))


@router.post("/controller/cycles", response_model=ControllerRunPublic)
def run_cycle(principal: Operator, store: StoreDep, clock: ClockDep, request: Request) -> dict:
    """Decide (or resume) the current cycle and actuate what is pending; returns the decisions acted on.

    A team-scoped token runs the cycle for its team's services only."""
    controller = getattr(request.app.state, "controller", None)
    if controller is None:
        raise Conflict("no controller runs in this process", fix="start it with `costplane serve` (without --no-controller)")
    acted = controller.run_cycle(team=principal.team)
    with store.session() as s:
        _audit.record(s, clock.now_s(), principal.name, "controller.run_cycle", "controller",
                      {"actuated": [f"{d.target}={d.desired.get('replicas')}" for d in acted]}, team=principal.team)
    return {"actuated": acted}
