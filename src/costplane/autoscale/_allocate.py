"""Sharing one GPU pool among services: proportional, priority and greedy rules (pure, never over capacity).

Each rule maps `requests` {service: replicas wanted} and a pool of `capacity` replicas (whole units)
to grants with 0 <= grant <= request and sum(grants) <= capacity; when everything fits, all get
what they asked.
- proportional: grants proportional to `weights` x request (largest-remainder rounding, Hamilton).
- priority: fill in order of `priorities` (higher first; ties by name), each up to its request.
- greedy: fill the smallest requests first, so the most services are served in full.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from costplane.core.errors import InputError


def _check(requests: Mapping[str, int], capacity: int) -> None:
    if capacity < 0:
        raise InputError(f"pool capacity must be >= 0, got {capacity}", fix="pass a non-negative capacity")
    for name, r in requests.items():
        if r < 0:
            raise InputError(f"service {name} requests {r} replicas", fix="requests must be >= 0")


def _in_order(order: list[str], requests: Mapping[str, int], capacity: int) -> dict[str, int]:
    left = capacity
    grants = {}
    for name in order:
        grants[name] = min(requests[name], left)
        left -= grants[name]
    return {name: grants[name] for name in requests}


def proportional(requests: Mapping[str, int], capacity: int, weights: Mapping[str, float] | None = None) -> dict[str, int]:
    if sum(requests.values()) <= capacity:
        return dict(requests)
    w = {n: max(0.0, float((weights or {}).get(n, 1.0))) * requests[n] for n in requests}
    total = sum(w.values())
    if total <= 0:
        return _in_order(sorted(requests), requests, capacity)
    shares = {n: min(requests[n], capacity * w[n] / total) for n in requests}
    grants = {n: int(math.floor(s)) for n, s in shares.items()}
    left = capacity - sum(grants.values())
    for n in sorted(requests, key=lambda n: (-(shares[n] - grants[n]), n)):
        if left <= 0:
            break
        if grants[n] < requests[n]:
            grants[n] += 1
            left -= 1
    if left > 0:  # capped shares left room: hand it out in order of the largest unmet request
        for n in sorted(requests, key=lambda n: (-(requests[n] - grants[n]), n)):
            extra = min(left, requests[n] - grants[n])
            grants[n] += extra
            left -= extra
    return grants


def priority(requests: Mapping[str, int], capacity: int, priorities: Mapping[str, float] | None = None) -> dict[str, int]:
    order = sorted(requests, key=lambda n: (-float((priorities or {}).get(n, 0.0)), n))
    return _in_order(order, requests, capacity)


def greedy(requests: Mapping[str, int], capacity: int, _: Mapping[str, float] | None = None) -> dict[str, int]:
    return _in_order(sorted(requests, key=lambda n: (requests[n], n)), requests, capacity)


ALLOCATION_RULES = {"proportional": proportional, "priority": priority, "greedy": greedy}


def allocate_pool(requests: Mapping[str, int], capacity: int, rule: str = "proportional",
                  params: Mapping[str, float] | None = None) -> dict[str, int]:
    """Grants per service under `rule`; `params` are weights (proportional) or priorities (priority)."""
    _check(requests, capacity)
    if rule not in ALLOCATION_RULES:
        raise InputError(f"unknown allocation rule {rule!r}", fix=f"use one of {', '.join(ALLOCATION_RULES)}")
    return ALLOCATION_RULES[rule](requests, capacity, params)
