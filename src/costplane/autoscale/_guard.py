"""`guarded(policy)`: the one wrapper that applies bounds and delays to every policy (Ray's autoscaling config).

Rules, in order, all timed by `obs.now_s` against timestamps kept in state (never by counting calls):
0. With no demand history yet, the fleet is held as it is.
   Until `warmup_s` of history exists, the fleet is not scaled down (a few seconds of data say little).
1. Up/down delays: a change in one direction is taken only after the policy has asked for it
   continuously for `upscale_delay_s` / `downscale_delay_s`.
2. Cold-start fast path: with no replica and demand waiting, scale up now whatever the delay.
3. Bounds: at most `max_replicas`; at least `floor_replicas` while active. With `scale_to_zero`, the
   floor drops to 0 once no demand has arrived for `scale_to_zero_delay_s`; without it, never below 1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict

from costplane.autoscale._decision import AutoscaleConfig, Decision, Observation

Policy = Callable[[Observation, Any, AutoscaleConfig], tuple[Decision, Any]]


class GuardState(TypedDict):
    """The guard's state: a plain dict, JSON-serialisable like every policy's (the controller stores it)."""

    inner: Any
    up_since_s: float | None
    down_since_s: float | None


def _delayed(now: float, since: float | None, delay_s: float) -> tuple[bool, float]:
    start = now if since is None else since
    return now - start >= delay_s, start


def guarded(policy: Policy) -> Policy:
    """The policy with bounds, scale-to-zero delay and up/down delays applied."""

    def decide(obs: Observation, state: GuardState | None, cfg: AutoscaleConfig) -> tuple[Decision, GuardState]:
        state = state if isinstance(state, dict) else {}
        decision, inner = policy(obs, state.get("inner"), cfg)
        spec = cfg.service
        current = obs.current_replicas
        desired = decision.desired_replicas
        if obs.demand.size == 0 and desired != current:
            decision = decision.with_desired(current, "no demand history yet: holding the fleet")
            desired = current
        up_since = down_since = None
        if desired > current:
            ok, up_since = _delayed(obs.now_s, state.get("up_since_s"), cfg.upscale_delay_s)
            if not ok and not (current == 0 and obs.demand.size and obs.demand[-1] > 0):
                decision = decision.with_desired(current, f"up-scale held for {cfg.upscale_delay_s:g} s delay")
        elif desired < current and obs.demand.size * obs.step_s < cfg.warmup_s:
            decision = decision.with_desired(current, f"down-scale held: under {cfg.warmup_s:g} s of history")
        elif desired < current:
            ok, down_since = _delayed(obs.now_s, state.get("down_since_s"), cfg.downscale_delay_s)
            if not ok:
                decision = decision.with_desired(current, f"down-scale held for {cfg.downscale_delay_s:g} s delay")
        floor = spec.floor_replicas
        if spec.scale_to_zero:
            idle_s = obs.seconds_since_demand(cfg.scale_to_zero_delay_s)
            # idle long enough: zero allowed; demand within the delay: keep at least one replica warm
            floor = 0 if idle_s >= cfg.scale_to_zero_delay_s else max(floor, 1)
        bounded = min(spec.max_replicas, max(floor, decision.desired_replicas))
        if bounded != decision.desired_replicas:
            decision = decision.with_desired(bounded, f"bounded to [{floor}, {spec.max_replicas}]")
        return decision, GuardState(inner=inner, up_since_s=up_since, down_since_s=down_since)

    decide.__name__ = getattr(policy, "__name__", "policy")
    decide.__doc__ = policy.__doc__
    decide.raw = policy  # type: ignore[attr-defined]
    return decide
