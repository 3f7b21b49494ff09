"""Event-driven replay of GPU jobs under a scheduling policy: JCT, queueing, utilisation and dollars.

A heap of events (arrival, finish, node ready, spot interruption, policy wake-up); time jumps from
one event to the next, and the policy is asked once per distinct event time. The simulator owns the
truth (true durations, the GPU ledger, billing); the policy sees an `Observation` and answers with a
`Decision` (preempt, release, buy, start), which is applied in that order.

Accounting
- Fixed nodes are paid for the whole replay span (first submit to last finish); elastic nodes from
  purchase (boot time included) to release or interruption.
- A preempted job keeps progress to its last checkpoint when checkpointable (and pays `restore_s` on
  resume), else restarts from zero; GPU-seconds of lost work are counted (`lost_gpu_hours`).
- JCT = finish − submit (≥ duration). Queue time = first start − submit.
- `gpu_utilisation` = GPU-seconds held by jobs (lost work included) / GPU-seconds paid.
- Jobs no cluster pool and no offer could ever hold are rejected up front, each with a reason.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from costplane.core.errors import InputError
from costplane.schedule import (
    POLICIES,
    Job,
    Ledger,
    NodeOffer,
    NodeView,
    Observation,
    Policy,
    QueuedJob,
    Rejection,
    RunningJob,
    SchedConfig,
    TeamQuota,
)

ARRIVE, FINISH, READY, KILL, WAKE = range(5)


@dataclass(frozen=True, slots=True)
class NodeSpec:
    gpu: str
    gpus: int
    hourly_usd: float
    spot: bool = False


@dataclass(frozen=True)
class ClusterSpec:
    """Fixed nodes (always up, paid for the whole span) and what an elastic policy may buy."""

    nodes: tuple[NodeSpec, ...] = ()
    offers: tuple[NodeOffer, ...] = ()
    label: str = ""

    @property
    def gpus(self) -> int:
        return sum(n.gpus for n in self.nodes)

    @property
    def hourly_usd(self) -> float:
        return sum(n.hourly_usd for n in self.nodes)


@dataclass
class JobReplayResult:
    policy: str
    jobs: int
    avg_jct_s: float
    p95_jct_s: float
    avg_queue_s: float
    gpu_utilisation: float
    gpu_hours: float
    cost_usd: float
    preemptions: int
    deadline_misses: int
    rejected: int
    rejected_by_reason: dict[str, int]
    used_gpu_hours: float
    lost_gpu_hours: float
    spot_interruptions: int
    nodes_bought: int
    peak_gpus: int
    span_s: float
    fixed_gpus: int
    jct_s: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    # per run: (job id, start_s, end_s, GPUs held, GPU units); per job: (submit_s, first_start_s, finish_s)
    runs: list[tuple[str, float, float, int, float]] = field(repr=False, default_factory=list)
    records: dict[str, tuple[float, float, float]] = field(repr=False, default_factory=dict)
    timeline: dict[str, list[float]] = field(repr=False, default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        keys = ("policy", "jobs", "avg_jct_s", "p95_jct_s", "avg_queue_s", "gpu_utilisation", "gpu_hours",
                "cost_usd", "preemptions", "deadline_misses", "rejected", "rejected_by_reason", "used_gpu_hours",
                "lost_gpu_hours", "spot_interruptions", "nodes_bought", "peak_gpus", "span_s", "fixed_gpus")
        out = {k: getattr(self, k) for k in keys}
        for k in ("avg_jct_s", "p95_jct_s", "avg_queue_s", "span_s"):
            out[k] = round(out[k], 3)
        for k in ("gpu_hours", "used_gpu_hours", "lost_gpu_hours"):
            out[k] = round(out[k], 4)
        out["cost_usd"] = round(out["cost_usd"], 2)
        out["gpu_utilisation"] = round(out["gpu_utilisation"], 5)
        return out


@dataclass
class _Node:
    id: int
    spec: NodeSpec
    elastic: bool
    bought_s: float
    ready_s: float
    jobs: int = 0
    idle_since_s: float | None = None
    gone_s: float | None = None


@dataclass
class _JobState:
    job: Job
    progress_s: float = 0.0          # work kept (checkpointed) so far
    attained_s: float = 0.0          # all service received, lost work included (LAS)
    first_start_s: float | None = None
    run_start_s: float = 0.0
    run_len_s: float = 0.0           # length of the current run if not interrupted
    token: int = 0
    finish_s: float | None = None


class _SortedQueue:
    """Queued jobs in (priority high first, submit, id) order; bisect keeps inserts and removals O(log n + memmove)."""

    def __init__(self) -> None:
        self.keys: list[tuple[int, float, str]] = []
        self.items: list[QueuedJob] = []

    @staticmethod
    def key(job: Job) -> tuple[int, float, str]:
        return (-job.priority, job.submit_s, job.id)

    def add(self, q: QueuedJob) -> None:
        k = self.key(q.job)
        i = bisect.bisect_left(self.keys, k)
        self.keys.insert(i, k)
        self.items.insert(i, q)

    def pop(self, job: Job) -> QueuedJob:
        i = bisect.bisect_left(self.keys, self.key(job))
        del self.keys[i]
        return self.items.pop(i)

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)


def _reject_reasons(jobs: Sequence[Job], cluster: ClusterSpec, quotas: Mapping[str, TeamQuota]
                    ) -> tuple[list[Job], list[Rejection]]:
    """Split jobs into those some pool or offer could hold and those none ever could (with why)."""
    empty = Ledger()
    for i, n in enumerate(cluster.nodes):
        empty.add_node(i, n.gpu, n.gpus)
    by_model = Counter()
    for n in cluster.nodes:
        by_model[n.gpu] += n.gpus
    ok: list[Job] = []
    rejected: list[Rejection] = []
    fits_cache: dict[tuple, str | None] = {}
    for job in jobs:
        if quotas and job.team not in quotas:
            rejected.append(Rejection(job.id, "unknown team"))
            continue
        if job.duration_s < 0:
            rejected.append(Rejection(job.id, "negative duration"))
            continue
        key = (job.allowed_gpus, job.min_gpu_memory_gib, job.whole_gpus, job.milli)
        if key not in fits_cache:
            why: str | None = None
            if empty.find(job) is None:
                need = max(job.whole_gpus, 1)
                offer_ok = any(o.gpus >= need and (not job.allowed_gpus or o.gpu in job.allowed_gpus)
                               and o.gpu_memory_gib >= job.min_gpu_memory_gib for o in cluster.offers)
                if not offer_ok:
                    why = ("more GPUs than the cluster has" if cluster.nodes and empty.allowed_models(job)
                           else "no GPU of an allowed model")
            fits_cache[key] = why
        why = fits_cache[key]
        if why is None:
            ok.append(job)
        else:
            rejected.append(Rejection(job.id, why))
    return ok, rejected


def replay_jobs(
    jobs: Sequence[Job],
    policy: str | Policy,
    cluster: ClusterSpec,
    cfg: SchedConfig | None = None,
    quotas: Mapping[str, TeamQuota] | None = None,
    seed: int = 0,
    record_timeline: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> JobReplayResult:
    """Replay `jobs` (any order) on `cluster` under `policy` (a POLICIES name or a decide function)."""
    if isinstance(policy, str):
        if policy not in POLICIES:
            raise InputError(f"unknown job policy {policy!r}", fix=f"use one of {', '.join(POLICIES)}")
        name, decide = policy, POLICIES[policy]
    else:
        name, decide = getattr(policy, "__name__", "custom"), policy
    cfg = cfg or SchedConfig()
    quotas = dict(quotas or {})
    rng = np.random.default_rng(seed)
    runnable, rejections = _reject_reasons(jobs, cluster, quotas)
    runnable.sort(key=lambda j: (j.submit_s, j.id))

    ledger = Ledger()
    nodes: dict[int, _Node] = {}
    live_elastic: dict[int, _Node] = {}
    gpu_node: list[int] = []
    states = {j.id: _JobState(j) for j in runnable}
    # the queue, kept sorted by (priority class high first, submit time, id): what every policy reads first
    queue = _SortedQueue()
    running: dict[str, RunningJob] = {}
    gpu_idx: dict[str, np.ndarray] = {}
    usage: dict[str, float] = {}
    events: list[tuple[float, int, int, Any]] = []
    seq = 0

    def push(t: float, kind: int, payload: Any) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (t, seq, kind, payload))

    start_s = runnable[0].submit_s if runnable else 0.0
    for j in runnable:
        push(j.submit_s, ARRIVE, j.id)

    def add_node(spec: NodeSpec, elastic: bool, now_s: float, ready_s: float) -> _Node:
        node = _Node(len(nodes), spec, elastic, now_s, ready_s, idle_since_s=ready_s)
        nodes[node.id] = node
        if elastic:
            live_elastic[node.id] = node
        if ready_s <= now_s:
            bring_up(node)
        else:
            push(ready_s, READY, node.id)
        if spec.spot and cfg.spot_interruptions_per_hour > 0:
            push(now_s + rng.exponential(3600.0 / cfg.spot_interruptions_per_hour), KILL, node.id)
        return node

    def bring_up(node: _Node) -> None:
        ledger.add_node(node.id, node.spec.gpu, node.spec.gpus)
        gpu_node.extend([node.id] * node.spec.gpus)

    for spec in sorted(cluster.nodes, key=lambda n: n.hourly_usd / max(n.gpus, 1)):
        add_node(spec, False, start_s, start_s)

    version = 0
    done = 0
    runs: list[tuple[str, float, float, int, float]] = []
    jct: list[float] = []
    queue_s: list[float] = []
    deadline_misses = preemptions = spot_kills = bought = 0
    busy_gpu_s = lost_gpu_s = 0.0
    peak_gpus = ledger.total_gpus()
    timeline: dict[str, list[float]] = {"t_s": [], "queued": [], "busy_gpus": [], "gpus": []}
    busy_units = 0.0
    state: Any = None
    next_wake = math.inf

    def nodes_of(jid: str) -> set[int]:
        return {gpu_node[g] for g in gpu_idx[jid].tolist()}

    def stop_run(jid: str, now_s: float) -> None:
        """Take a running job off its GPUs (finish or eviction) and update node idleness."""
        nonlocal busy_units
        st = states[jid]
        runs.append((jid, st.run_start_s, now_s, len(gpu_idx[jid]), st.job.gpu_units))
        ledger.give(gpu_idx[jid], st.job.milli)
        for nid in nodes_of(jid):
            node = nodes[nid]
            node.jobs -= 1
            if node.jobs == 0:
                node.idle_since_s = now_s
        del gpu_idx[jid]
        del running[jid]
        usage[st.job.team] = usage.get(st.job.team, 0.0) - st.job.gpu_units
        busy_units -= st.job.gpu_units

    def evict(jid: str, now_s: float) -> None:
        nonlocal preemptions, lost_gpu_s, busy_gpu_s
        st = states[jid]
        ran = now_s - st.run_start_s
        st.token += 1
        before = st.progress_s
        if st.job.checkpointable and cfg.checkpoint_interval_s > 0:
            kept = math.floor(ran / cfg.checkpoint_interval_s) * cfg.checkpoint_interval_s
            st.progress_s = min(before + kept, st.job.duration_s)
        else:
            st.progress_s = 0.0
        lost_gpu_s += (before + ran - st.progress_s) * st.job.gpu_units
        busy_gpu_s += ran * st.job.gpu_units
        st.attained_s += ran
        stop_run(jid, now_s)
        preemptions += 1
        queue.add(QueuedJob(st.job, st.attained_s, st.first_start_s))

    def start(jid: str, now_s: float, where: tuple[int, ...] | None = None) -> None:
        nonlocal busy_units
        st = states[jid]
        q = queue.pop(st.job)
        idx = None
        if where is not None:  # the policy's own placement, when it is still free
            chosen = np.asarray(where, dtype=np.int64)
            if chosen.size and bool((ledger.free[chosen] >= st.job.milli).all()):
                ledger.take(chosen, st.job.milli)
                idx = chosen
        if idx is None:
            idx = ledger.place(st.job)
        if idx is None:
            raise AssertionError(f"policy {name} started {jid} but it does not fit")
        gpu_idx[jid] = idx
        for nid in nodes_of(jid):
            node = nodes[nid]
            node.jobs += 1
            node.idle_since_s = None
        if st.first_start_s is None:
            st.first_start_s = now_s
        restore = cfg.restore_s if (st.progress_s > 0 and st.job.checkpointable) else 0.0
        st.run_start_s = now_s
        st.run_len_s = max(st.job.duration_s - st.progress_s, 0.0) + restore
        st.token += 1
        running[jid] = RunningJob(st.job, now_s, st.progress_s)
        usage[st.job.team] = usage.get(st.job.team, 0.0) + st.job.gpu_units
        busy_units += st.job.gpu_units
        push(now_s + st.run_len_s, FINISH, (jid, st.token))
        del q

    def release(nid: int, now_s: float) -> None:
        node = nodes[nid]
        if node.gone_s is not None:
            return
        node.gone_s = now_s
        live_elastic.pop(nid, None)
        if nid in ledger.node_gpus:
            ledger.remove_node(nid)

    total = len(runnable)
    while events:
        now_s = events[0][0]
        changed = False
        while events and events[0][0] == now_s:
            _, _, kind, payload = heapq.heappop(events)
            if kind == ARRIVE:
                st = states[payload]
                queue.add(QueuedJob(st.job))
                changed = True
            elif kind == FINISH:
                jid, token = payload
                st = states[jid]
                if token != st.token or jid not in running:
                    continue
                busy_gpu_s += st.run_len_s * st.job.gpu_units
                st.attained_s += st.run_len_s
                stop_run(jid, now_s)
                st.finish_s = now_s
                done += 1
                jct.append(now_s - st.job.submit_s)
                queue_s.append((now_s if st.first_start_s is None else st.first_start_s) - st.job.submit_s)
                if st.job.deadline_s is not None and now_s > st.job.deadline_s + 1e-9:
                    deadline_misses += 1
                version += 1
                changed = True
                if on_progress is not None and done % 2000 == 0:
                    on_progress(done, total)
            elif kind == READY:
                node = nodes[payload]
                if node.gone_s is None:
                    bring_up(node)
                    version += 1
                    changed = True
            elif kind == KILL:
                node = nodes[payload]
                if node.gone_s is not None:
                    continue
                if payload in ledger.node_gpus:
                    for jid in [j for j in running if payload in nodes_of(j)]:
                        evict(jid, now_s)
                spot_kills += 1
                release(payload, now_s)
                version += 1
                changed = True
            elif kind == WAKE:
                if payload == next_wake:
                    next_wake = math.inf
                changed = True
        if not changed:
            continue
        elastic = bool(cluster.offers)
        obs = Observation(
            now_s=now_s,
            queue=tuple(queue.items),
            running=tuple(running.values()),
            ledger=ledger,
            gpu_idx=gpu_idx,
            nodes=tuple(NodeView(n.id, n.spec.gpu, n.spec.gpus, n.spec.hourly_usd, n.spec.spot, n.elastic,
                                 n.ready_s, n.idle_since_s)
                        for n in live_elastic.values()) if elastic else (),
            offers=cluster.offers,
            quotas=quotas,
            team_usage=usage,
            version=version,
        )
        decision, state = decide(obs, state, cfg)
        for jid in decision.preempt:
            evict(jid, now_s)
            version += 1
        for nid in decision.release:
            if nodes[nid].jobs == 0:
                release(nid, now_s)
                version += 1
        for offer in decision.buy:
            add_node(NodeSpec(offer.gpu, offer.gpus, offer.hourly_usd, offer.spot), True, now_s,
                     now_s + cfg.provision_s)
            bought += 1
        placed = decision.gpus if len(decision.gpus) == len(decision.start) else (None,) * len(decision.start)
        for jid, where in zip(decision.start, placed):
            start(jid, now_s, where)
        if decision.wake_at_s is not None and decision.wake_at_s > now_s and decision.wake_at_s < next_wake:
            next_wake = decision.wake_at_s
            push(next_wake, WAKE, next_wake)
        live_gpus = ledger.total_gpus()
        peak_gpus = max(peak_gpus, live_gpus)
        if record_timeline:
            timeline["t_s"].append(now_s - start_s)
            timeline["queued"].append(float(len(queue)))
            timeline["busy_gpus"].append(busy_units)
            timeline["gpus"].append(float(live_gpus))
        if not queue and not running and done == total:
            break  # what is left (wake-ups, idle nodes) changes nothing that is measured

    # nothing more will ever start these (e.g. above their team's max): counted, never dropped
    for jid in (q.job.id for q in queue.items):
        rejections.append(Rejection(jid, "never started (quota or policy)"))
    end_s = max([s.finish_s for s in states.values() if s.finish_s is not None], default=start_s)
    span_s = max(end_s - start_s, 0.0)
    paid_gpu_s = cost = 0.0
    for node in nodes.values():
        until = node.gone_s if node.gone_s is not None else end_s
        since = start_s if not node.elastic else node.bought_s
        up_s = max(until - since, 0.0)
        cost += node.spec.hourly_usd * up_s / 3600.0
        paid_gpu_s += node.spec.gpus * up_s
    jct_arr = np.asarray(jct, dtype=float)
    reasons = Counter(r.reason for r in rejections)
    return JobReplayResult(
        policy=name,
        jobs=done,
        avg_jct_s=float(jct_arr.mean()) if jct else 0.0,
        p95_jct_s=float(np.percentile(jct_arr, 95)) if jct else 0.0,
        avg_queue_s=float(np.mean(queue_s)) if queue_s else 0.0,
        gpu_utilisation=min(busy_gpu_s / paid_gpu_s, 1.0) if paid_gpu_s > 0 else 0.0,
        gpu_hours=paid_gpu_s / 3600.0,
        cost_usd=cost,
        preemptions=preemptions,
        deadline_misses=deadline_misses,
        rejected=len(rejections),
        rejected_by_reason=dict(reasons),
        used_gpu_hours=busy_gpu_s / 3600.0,
        lost_gpu_hours=lost_gpu_s / 3600.0,
        spot_interruptions=spot_kills,
        nodes_bought=bought,
        peak_gpus=peak_gpus,
        span_s=span_s,
        fixed_gpus=cluster.gpus,
        jct_s=jct_arr,
        runs=runs,
        records={jid: (s.job.submit_s, s.first_start_s, s.finish_s) for jid, s in states.items()
                 if s.finish_s is not None and s.first_start_s is not None},
        timeline=timeline if record_timeline else {},
    )
