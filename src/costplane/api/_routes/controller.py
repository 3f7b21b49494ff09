"""Run one controller cycle now (operator): decide, store and actuate, audited with the caller's name.

A team-scoped operator's cycle covers only its team's services: it neither decides nor actuates nor
returns another team's (`POST` by a token of team `research` touches research's deployments only).
"""

from __future__ import annotations

import copy
from contextlib import nullcontext

from fastapi import APIRouter, Request

from costplane.api import _audit
from costplane.api._deps import ClockDep, Operator, StoreDep
from costplane.api._errors import Conflict, error_responses
from costplane.api._schemas import ControllerRunPublic

router = APIRouter(tags=["controller"], responses=error_responses(401, 403, 409))


def run_team_cycle(controller, team: str | None) -> list:
    """The current cycle, for every service (team None) or for `team`'s services only.

    The team's cycle runs on a shallow copy of the controller that knows only the team's services
    (same store, clock, actuator and lease), under the serve loop's cycle lock when it has one.
    """
    if team is None:
        return controller.run_cycle()
    own = tuple(s for s in controller.services if s.team == team)
    if not own:
        return []
    view = copy.copy(controller)
    view.services = own
    if isinstance(getattr(controller, "_by_target", None), dict):
        view._by_target = {k: v for k, v in controller._by_target.items() if v in own}
    with getattr(controller, "cycle_lock", None) or nullcontext():
        return type(controller).run_cycle(view)


@router.post("/controller/cycles", response_model=ControllerRunPublic)
def run_cycle(principal: Operator, store: StoreDep, clock: ClockDep, request: Request) -> dict:
    """Decide (or resume) the current cycle and actuate what is pending; returns the decisions acted on.

    A team-scoped token runs the cycle for its team's services only."""
    controller = getattr(request.app.state, "controller", None)
    if controller is None:
        raise Conflict("no controller runs in this process", fix="start it with `costplane serve` (without --no-controller)")
    acted = run_team_cycle(controller, principal.team)
    with store.session() as s:
        _audit.record(s, clock.now_s(), principal.name, "controller.run_cycle", "controller",
                      {"actuated": [f"{d.target}={d.desired.get('replicas')}" for d in acted]}, team=principal.team)
    return {"actuated": acted}
