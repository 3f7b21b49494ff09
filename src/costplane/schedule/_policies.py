"""Job scheduling policies: one signature `decide(obs, state, cfg) -> (Decision, state)`, no clock, no I/O.

Every policy orders the queue by priority class first (higher first), then by its own key:
- `fifo`: submit time, head-of-line blocking with EASY backfill: a later job may jump the blocked
  head only when, by the estimated ends of running jobs, it cannot delay the head's reserved start
  (it ends before the head's shadow time, or it uses GPUs the head's reservation leaves free).
- `sjf`: shortest estimated duration first, greedy (a blocked job is skipped, not waited for), over the
  `sjf_scan_depth` shortest and the `scan_depth` oldest jobs.
- `las`: Tiresias-style discretised least-attained-service: queue level = how many thresholds of
  attained GPU-seconds a job has passed (`LAS_THRESHOLDS_GPU_S`); lower level first, FIFO within a
  level. No duration knowledge. A queued job may preempt checkpointable running jobs of a higher
  level; the policy asks to be woken when a running job crosses its next threshold.
- sjf and las age: the oldest job (highest class first) that has waited `starvation_s` gets fifo's EASY
  reservation and the others backfill around it, so no job starves (see STARVATION_S).
- `cost-aware`: earliest deadline (then shortest) first, greedy on ready capacity; a job that does
  not fit on ready or provisioning capacity buys the node with the lowest expected cost that still
  meets its deadline (on-demand, or spot with interruption risk priced in, any cloud/region the
  offer list holds); idle elastic nodes are released after `idle_grace_s`.

All policies may preempt running jobs of a lower priority class for a blocked job (`cfg.preempt`),
and enforce team quotas: a team may hold up to `max_gpus`; a team below its `guaranteed_gpus` may
preempt jobs of teams running above their guarantee (borrowed GPUs).

Expected spot run time: costplane.core.spot's renewal formula (memoryless interruptions at rate λ per
second, job length T): restart from scratch (not checkpointable) (exp(λT) − 1) / λ; checkpointable every
C s with restore R s, (1/λ + R)(exp(λC) − 1) per C s of progress (≈ T · (1 + λ (C/2 + R)) to first order).
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from costplane.core.spot import expected_wall_s
from costplane.schedule._ledger import Ledger
from costplane.schedule._model import (
    MILLI_PER_GPU,
    Decision,
    Job,
    NodeOffer,
    NodeView,
    QueuedJob,
    RunningJob,
    TeamQuota,
)

LAS_THRESHOLDS_GPU_S: tuple[float, ...] = (3_600.0, 36_000.0, 360_000.0)  # 1, 10, 100 GPU-hours
SCAN_DEPTH = 100          # queued jobs looked at per pass, like Slurm's default_queue_depth
IDLE_GRACE_S = 900.0      # an idle elastic node is kept this long for the next job before release
PROVISION_S = 120.0       # boot time of a bought node (paid, not usable)
SPOT_INTERRUPTIONS_PER_HOUR = 0.05
SPOT_DEADLINE_MARGIN = 1.5  # spot only when 1.5 × its expected run time still meets the deadline
CHECKPOINT_INTERVAL_S = 1_800.0
RESTORE_S = 120.0
# A job that cannot checkpoint is evicted for a higher class only within its first hour: later, a
# restart would throw away more GPU-time than the wait it saves (the trace's median job is ~10 min).
MAX_RESTART_LOSS_S = 3_600.0
# Starvation (sjf, las). A job waiting longer than STARVATION_S gets fifo's EASY reservation: the oldest
# such job (of the highest class) is the head, later jobs start only if they cannot delay it (Tiresias'
# starvation promotion; Slurm's and YARN's age factor). SJF_AGING: seconds of estimate forgiven per
# second waited (a priority boost proportional to wait); 0 by default, because on the multi-GPU,
# GPU-typed mix in tests/test_schedule_starvation.py it lengthened the average JCT, while a deeper scan
# (SJF_SCAN_DEPTH shortest jobs, plus the scan_depth oldest) is what stops a GPU model's jobs from sitting
# behind 100 shorter jobs that wait for another model. See BENCHMARKS.md (replay-jobs).
SJF_AGING = 0.0
SJF_SCAN_DEPTH = 1_000
STARVATION_S = 4 * 3_600.0


@dataclass(frozen=True)
class SchedConfig:
    backfill: bool = True
    preempt: bool = True
    scan_depth: int = SCAN_DEPTH
    idle_grace_s: float = IDLE_GRACE_S
    provision_s: float = PROVISION_S
    spot_interruptions_per_hour: float = SPOT_INTERRUPTIONS_PER_HOUR
    checkpoint_interval_s: float = CHECKPOINT_INTERVAL_S
    restore_s: float = RESTORE_S
    allow_spot: bool = True
    max_restart_loss_s: float = MAX_RESTART_LOSS_S
    sjf_aging: float = SJF_AGING
    sjf_scan_depth: int = SJF_SCAN_DEPTH
    starvation_s: float = STARVATION_S


@dataclass(frozen=True)
class Observation:
    """Queue and cluster at `now_s`. `ledger` is the ready capacity: policies copy it, never mutate it.

    `version` changes whenever capacity changes other than by this policy's own starts (a job ends,
    is preempted, a node comes or goes), so a policy may cache work keyed on it.
    """

    now_s: float
    queue: tuple[QueuedJob, ...]              # priority class (high first), then submit time
    running: tuple[RunningJob, ...]
    ledger: Ledger
    gpu_idx: Mapping[str, np.ndarray]         # running job id -> GPUs it holds
    nodes: tuple[NodeView, ...] = ()
    offers: tuple[NodeOffer, ...] = ()        # empty: fixed cluster, nothing to buy
    quotas: Mapping[str, TeamQuota] = field(default_factory=dict)
    team_usage: Mapping[str, float] = field(default_factory=dict)
    version: int = 0


Policy = Callable[[Observation, Any, SchedConfig], tuple[Decision, Any]]


# --- shared pieces ----------------------------------------------------------------------------
def by_priority(queue: tuple[QueuedJob, ...], depth: int) -> list[QueuedJob]:
    """The first `depth` jobs by (priority class high first, submit time); the observation's queue
    already comes in that order, so this checks it only on short queues (a custom driver's)."""
    head = list(queue[:depth])
    if len(queue) <= depth:
        head.sort(key=lambda q: (-q.job.priority, q.job.submit_s, q.job.id))
    return head


def _quota_ok(job: Job, usage: dict[str, float], quotas: Mapping[str, TeamQuota]) -> bool:
    quota = quotas.get(job.team)
    return quota is None or usage.get(job.team, 0.0) + job.gpu_units <= quota.max_gpus + 1e-9


def _borrowing(team: str, usage: Mapping[str, float], quotas: Mapping[str, TeamQuota]) -> bool:
    quota = quotas.get(team)
    return quota is not None and usage.get(team, 0.0) > quota.guaranteed_gpus + 1e-9


def _est_end(r: RunningJob, now_s: float) -> float:
    return max(r.start_s + max(r.job.est_s - r.attained_s, 0.0), now_s)


class _Pass:
    """One scheduling pass on a scratch ledger: tentative starts and preemptions, applied in order."""

    def __init__(self, obs: Observation, cfg: SchedConfig) -> None:
        self.obs = obs
        self.cfg = cfg
        self.ledger = obs.ledger.copy()
        self.usage = dict(obs.team_usage)
        self.starts: list[str] = []
        self.started_at: list[tuple[float, str, int, np.ndarray]] = []  # (estimated end, id, milli, GPUs)
        self.preempts: list[str] = []
        self.preempted: set[str] = set()
        self.failed: dict[tuple, int] = {}  # shape -> smallest need that failed since the last change
        self.preempt_failed: dict[tuple, int] = {}  # (shape, priority) -> smallest need no eviction could seat
        self.reasons: list[str] = []
        self.max_free = int(self.ledger.free.max()) if self.ledger.free.size else 0
        self.min_running_priority = min((r.job.priority for r in obs.running), default=1 << 30)
        self.one_model = len(self.ledger.models) <= 1

    def full(self) -> bool:
        """No GPU has any free share left: nothing more can start without an eviction."""
        return self.max_free <= 0

    def _shape(self, job: Job) -> tuple:
        return (job.allowed_gpus, job.min_gpu_memory_gib, job.whole_gpus > 0)

    def known_to_fail(self, job: Job) -> bool:
        if job.milli > self.max_free:
            return True
        smallest = self.failed.get((job.allowed_gpus, job.min_gpu_memory_gib, job.whole_gpus > 0))
        return smallest is not None and (job.whole_gpus or job.milli) >= smallest

    def _taken(self) -> None:
        self.max_free = int(self.ledger.free.max()) if self.ledger.free.size else 0

    def try_start(self, job: Job) -> bool:
        if not _quota_ok(job, self.usage, self.obs.quotas) or self.known_to_fail(job):
            return False
        idx = self.ledger.place(job)
        if idx is None:
            shape = self._shape(job)
            need = job.whole_gpus or job.milli
            self.failed[shape] = min(need, self.failed.get(shape, need))
            return False
        self._started(job, idx)
        return True

    def _started(self, job: Job, idx: np.ndarray) -> None:
        self._taken()
        self.starts.append(job.id)
        self.started_at.append((self.obs.now_s + job.est_s, job.id, job.milli, idx))
        self.usage[job.team] = self.usage.get(job.team, 0.0) + job.gpu_units

    def try_preempt_for(self, job: Job, may_evict: Callable[[RunningJob], bool],
                        victim_order: Callable[[RunningJob], Any], tag: Any = None) -> bool:
        """Evict running jobs (in `victim_order`) until `job` fits; commit only if it then fits."""
        if not _quota_ok(job, self.usage, self.obs.quotas):
            return False
        key = (self._shape(job), job.priority, tag)
        need = job.whole_gpus or job.milli
        if need >= self.preempt_failed.get(key, 1 << 30):
            return False
        candidates = [r for r in self.obs.running if r.job.id not in self.preempted and may_evict(r)]
        if not self.one_model:
            allowed = set(self.ledger.allowed_models(job))
            candidates = [r for r in candidates
                          if allowed.intersection(self.ledger.gpu_model[self.obs.gpu_idx[r.job.id]].tolist())]
        if not candidates:
            self.preempt_failed[key] = min(need, self.preempt_failed.get(key, need))
            return False
        candidates.sort(key=victim_order)
        scratch = self.ledger.copy()
        chosen: list[RunningJob] = []
        for r in candidates:
            scratch.give(self.obs.gpu_idx[r.job.id], r.job.milli)
            chosen.append(r)
            if scratch.find(job) is not None:
                break
        else:
            self.preempt_failed[key] = min(need, self.preempt_failed.get(key, need))
            return False
        for r in chosen:
            self.ledger.give(self.obs.gpu_idx[r.job.id], r.job.milli)
            self.preempts.append(r.job.id)
            self.preempted.add(r.job.id)
            self.usage[r.job.team] = self.usage.get(r.job.team, 0.0) - r.job.gpu_units
            self.reasons.append(f"preempt {r.job.id} for {job.id}")
        self.failed.clear()
        self.preempt_failed.clear()
        placed = self.ledger.place(job)
        assert placed is not None
        self._started(job, placed)
        return True

    def preempt_lower_priority(self, job: Job) -> bool:
        if not self.cfg.preempt:
            return False
        if not self.obs.quotas and job.priority <= self.min_running_priority:
            return False
        now_s = self.obs.now_s
        under_guarantee = (job.team in self.obs.quotas
                           and self.usage.get(job.team, 0.0) + job.gpu_units
                           <= self.obs.quotas[job.team].guaranteed_gpus + 1e-9)

        def lower_class(r: RunningJob) -> bool:
            if not r.job.checkpointable and now_s - r.start_s > self.cfg.max_restart_loss_s:
                return False  # restarting it would throw away more work than the guard allows
            if r.job.priority < job.priority:
                return True
            return under_guarantee and r.job.team != job.team and _borrowing(r.job.team, self.usage, self.obs.quotas)

        # lowest class first, then the most recently started (least work lost)
        return self.try_preempt_for(job, lower_class, lambda r: (r.job.priority, -r.start_s), "class")

    def decision(self, **extra: Any) -> Decision:
        gpus = tuple(tuple(int(g) for g in idx) for _end, _jid, _milli, idx in self.started_at)
        return Decision(start=tuple(self.starts), preempt=tuple(self.preempts), reasons=tuple(self.reasons),
                        gpus=gpus, **extra)


def _greedy(obs: Observation, cfg: SchedConfig, ordered: list[QueuedJob]) -> _Pass:
    """Start every job that fits, in order; a blocked job may preempt lower classes, else is skipped."""
    p = _Pass(obs, cfg)
    for q in ordered[: cfg.scan_depth]:
        if not p.try_start(q.job):
            p.preempt_lower_priority(q.job)
    return p


# --- fifo with EASY backfill ------------------------------------------------------------------
def _shadow(obs: Observation, p: _Pass, head: Job) -> tuple[float, Ledger]:
    """Earliest estimated time the head fits if running jobs end at their estimates; the ledger then,
    with the head's GPUs reserved. inf when it never fits on this cluster.

    Jobs this pass started before the head count as running: they hold GPUs until their estimated end
    (the shadow is cached until capacity changes otherwise, so it must see them now).
    """
    ends = [(_est_end(r, obs.now_s), r.job.id, r.job.milli, obs.gpu_idx[r.job.id])
            for r in obs.running if r.job.id not in p.preempted]
    ends = sorted(ends + p.started_at, key=lambda e: (e[0], e[1]))
    scratch = p.ledger.copy()
    for end_s, _jid, milli, idx in ends:
        scratch.give(idx, milli)
        if scratch.find(head) is not None:
            scratch.place(head)
            return end_s, scratch
    return math.inf, scratch


def _reserve_and_backfill(obs: Observation, state: Any, cfg: SchedConfig, ordered: list[QueuedJob],
                          may_reserve: Callable[[QueuedJob], bool],
                          on_blocked: Callable[[_Pass, QueuedJob], bool] | None = None,
                          scan: int | None = None) -> tuple[_Pass, Any]:
    """Start jobs in `ordered`; the first blocked job that `may_reserve` becomes the head: it gets an EASY
    reservation (its shadow start) and later jobs only backfill around it. Blocked jobs before it that may
    not reserve are skipped (greedy). `on_blocked` may seat a blocked job another way (LAS demotion).
    `scan`: how many of `ordered` to look at (default cfg.scan_depth)."""
    state = dict(state or {})
    p = _Pass(obs, cfg)
    head: Job | None = None
    shadow_s = math.inf
    shadow_ledger: Ledger | None = None
    conflicts: set[tuple] = set()
    # backfill candidates refused since capacity last changed, behind the same head, stay refused (the
    # ledger only shrank since)
    prev = state.get("refused")
    refused_before: set[str] = set()
    refused: set[str] = set()
    quotas = obs.quotas
    for q in ordered[: scan or cfg.scan_depth]:
        job = q.job
        if head is None:
            if p.try_start(job):
                continue
            if p.preempt_lower_priority(job):
                continue
            if on_blocked is not None and on_blocked(p, q):
                continue
            if not _quota_ok(job, p.usage, obs.quotas):
                continue  # over its team's limit: waits without blocking other teams
            if not may_reserve(q):
                continue
            head = job
            if prev and prev[0] == obs.version and prev[1] == head.id:
                refused_before = prev[2]
            state["refused"] = (obs.version, head.id, refused)
            if not cfg.backfill:
                break
            cached = state.get("shadow")
            if cached and cached[0] == obs.version and cached[1] == head.id:
                shadow_s, shadow_ledger = cached[2], cached[3]
            else:
                shadow_s, shadow_ledger = _shadow(obs, p, head)
                state["shadow"] = (obs.version, head.id, shadow_s, shadow_ledger)
            continue
        # backfill candidate: must fit now and not touch the head's reservation
        if p.full():
            break
        if job.id in refused_before or job.milli > p.max_free:
            refused.add(job.id)
            continue
        if (quotas and not _quota_ok(job, p.usage, quotas)) or p.known_to_fail(job):
            refused.add(job.id)
            continue
        ends_before_shadow = obs.now_s + job.est_s <= shadow_s
        shape = (job.allowed_gpus, job.min_gpu_memory_gib, job.whole_gpus, job.milli)
        if not ends_before_shadow and shape in conflicts:
            refused.add(job.id)
            continue  # same GPUs as a candidate already refused since the ledger last changed
        idx = p.ledger.find(job)
        if idx is None:
            p.try_start(job)  # records the failed shape
            refused.add(job.id)
            continue
        assert shadow_ledger is not None
        if not ends_before_shadow:
            if not bool((shadow_ledger.free[idx] >= job.milli).all()):
                conflicts.add(shape)
                refused.add(job.id)
                continue
            shadow_ledger.take(idx, job.milli)
        conflicts.clear()
        p.ledger.take(idx, job.milli)
        p._started(job, idx)
        p.reasons.append(f"backfill {job.id} ahead of {head.id}")
    return p, state


def fifo(obs: Observation, state: Any, cfg: SchedConfig) -> tuple[Decision, Any]:
    p, state = _reserve_and_backfill(obs, state, cfg, by_priority(obs.queue, cfg.scan_depth), lambda q: True)
    return p.decision(), state


# --- aging: no job starves under sjf or las ---------------------------------------------------
def waited_s(q: QueuedJob, now_s: float) -> float:
    """How long the job has been waiting since it was submitted or last ran (queue time, not run time)."""
    return max(now_s - q.job.submit_s - q.attained_s, 0.0)


def starving(q: QueuedJob, now_s: float, cfg: SchedConfig) -> bool:
    return waited_s(q, now_s) >= cfg.starvation_s


def sjf_key(q: QueuedJob, now_s: float, cfg: SchedConfig) -> tuple:
    """Shortest estimate first, aged: every second waited takes `sjf_aging` s off the estimate."""
    return (-q.job.priority, q.job.est_s - cfg.sjf_aging * waited_s(q, now_s), q.job.submit_s, q.job.id)


def _with_starving_head(obs: Observation, cfg: SchedConfig, key: Callable[[QueuedJob], tuple], depth: int
                        ) -> tuple[list[QueuedJob], str | None]:
    """The queue in `key` order, led by the oldest job (of the highest class) that has waited `starvation_s`:
    that one job gets fifo's EASY reservation, the rest start or backfill in `key` order (EASY with
    shortest-first backfill, which cannot starve: the oldest job's start is always reserved)."""
    ordered = heapq.nsmallest(depth, obs.queue, key=key)
    # the oldest jobs are looked at too (after the policy's own choice), so a GPU model whose jobs are all
    # beyond the first `depth` by `key` does not sit idle while they wait
    seen = {q.job.id for q in ordered}
    ordered += [q for q in obs.queue[: cfg.scan_depth] if q.job.id not in seen]
    head = next((q for q in obs.queue[: cfg.scan_depth] if starving(q, obs.now_s, cfg)), None)
    if head is None:
        return ordered, None
    return [head] + [q for q in ordered if q.job.id != head.job.id], head.job.id


def sjf(obs: Observation, state: Any, cfg: SchedConfig) -> tuple[Decision, Any]:
    ordered, head = _with_starving_head(obs, cfg, lambda q: sjf_key(q, obs.now_s, cfg), cfg.sjf_scan_depth)
    p, state = _reserve_and_backfill(obs, state, cfg, ordered, lambda q: q.job.id == head, scan=len(ordered))
    return p.decision(wake_at_s=_starve_wake(obs, cfg)), state


# --- Tiresias-style LAS -----------------------------------------------------------------------
def las_level(attained_gpu_s: float, thresholds: tuple[float, ...] = LAS_THRESHOLDS_GPU_S) -> int:
    """How many thresholds the attained GPU-seconds reached (0 = the top queue)."""
    return bisect.bisect_right(thresholds, attained_gpu_s)


def las_key(q: QueuedJob) -> tuple:
    """Lower queue level first, FIFO within one."""
    return (-q.job.priority, las_level(q.attained_s * q.job.gpu_units) if q.attained_s else 0, q.job.submit_s,
            q.job.id)


def las(obs: Observation, state: Any, cfg: SchedConfig) -> tuple[Decision, Any]:
    def attained_running(r: RunningJob) -> float:
        return (r.attained_s + obs.now_s - r.start_s) * r.job.gpu_units

    ordered, head = _with_starving_head(obs, cfg, las_key, cfg.scan_depth)
    levels = {r.job.id: bisect.bisect_right(LAS_THRESHOLDS_GPU_S, attained_running(r)) for r in obs.running}
    # only checkpointable jobs are demoted off their GPUs: restarting the others would waste their work
    demotable = any(r.job.checkpointable for r in obs.running)

    def demote_for(p: _Pass, q: QueuedJob) -> bool:
        if not (cfg.preempt and demotable):
            return False
        job = q.job
        mine = las_level(q.attained_s * job.gpu_units)
        return p.try_preempt_for(
            job,
            lambda r: (r.job.checkpointable and r.job.priority <= job.priority and levels[r.job.id] > mine),
            lambda r: (-levels[r.job.id], -r.start_s),
            ("las", mine),
        )

    p, state = _reserve_and_backfill(obs, state, cfg, ordered, lambda q: q.job.id == head, demote_for,
                                     scan=len(ordered))
    # wake when the next running job crosses a threshold (it may then yield to a queued job), or when the
    # oldest queued job starts to starve (it is then promoted and reserved)
    wake = math.inf
    for r in obs.running:
        level = levels[r.job.id]
        if r.job.checkpointable and level < len(LAS_THRESHOLDS_GPU_S) and r.job.gpu_units > 0:
            cross = r.start_s + LAS_THRESHOLDS_GPU_S[level] / r.job.gpu_units - r.attained_s
            if cross > obs.now_s:
                wake = min(wake, cross)
    return p.decision(wake_at_s=_starve_wake(obs, cfg, wake)), state


def _starve_wake(obs: Observation, cfg: SchedConfig, wake: float = math.inf) -> float | None:
    """The earliest moment a queued job reaches `starvation_s` (the policy must then reorder), or `wake`."""
    if not obs.queue:
        return None
    for q in obs.queue[: cfg.scan_depth * 4]:
        due = obs.now_s + cfg.starvation_s - waited_s(q, obs.now_s)
        if due > obs.now_s:
            wake = min(wake, due)
    return wake if wake < math.inf else None


# --- cost-aware elastic -----------------------------------------------------------------------
def expected_spot_s(job: Job, cfg: SchedConfig) -> float:
    """Expected run time on spot: the renewal formula of costplane.core.spot (the one train-plan uses), with
    the job's checkpoint interval and restore when it can checkpoint, a restart from scratch otherwise."""
    lam = cfg.spot_interruptions_per_hour / 3600.0
    if job.checkpointable:
        return float(expected_wall_s(job.est_s, lam, cfg.checkpoint_interval_s, cfg.restore_s))
    return float(expected_wall_s(job.est_s, lam, None, 0.0))


def choose_offer(job: Job, offers: tuple[NodeOffer, ...], now_s: float, cfg: SchedConfig,
                 allowed: Callable[[NodeOffer], bool], backlog_gpus: float = 0.0) -> tuple[NodeOffer | None, str]:
    """The node with the lowest expected cost for this job that still meets its deadline.

    With a backlog of B GPUs waiting, a machine of n GPUs is charged for this job at
    hourly × share, share = 1 / min(n, B) GPUs of it in use: so an 8-GPU machine at $0.85/h beats a
    1-GPU one at $0.14/h once 7+ GPUs are waiting, and loses for a lone 1-GPU job.
    """
    best: tuple[float, NodeOffer] | None = None
    need = max(job.whole_gpus, 1)
    for o in offers:
        if o.gpus < need or not allowed(o):
            continue
        if o.spot and not cfg.allow_spot:
            continue
        run_s = expected_spot_s(job, cfg) if o.spot else job.est_s
        finish_s = now_s + cfg.provision_s + run_s * (SPOT_DEADLINE_MARGIN if o.spot else 1.0)
        if job.deadline_s is not None and finish_s > job.deadline_s and o.spot:
            continue
        used = max(min(float(o.gpus), backlog_gpus), float(need))
        cost = o.hourly_usd * (run_s + cfg.provision_s) / 3600.0 * (need / used)
        if best is None or cost < best[0]:
            best = (cost, o)
    if best is None:
        return None, f"no offer can hold {job.id}"
    o = best[1]
    return o, (f"buy {o.gpus}×{o.gpu} {'spot' if o.spot else 'on-demand'} {o.cloud}/{o.region} "
               f"for {job.id} (expected ${best[0]:.2f})")


def cost_aware(obs: Observation, state: Any, cfg: SchedConfig) -> tuple[Decision, Any]:
    def key(q: QueuedJob) -> tuple:
        slack = (q.job.deadline_s - obs.now_s - q.job.est_s) if q.job.deadline_s is not None else math.inf
        return (-q.job.priority, slack, q.job.est_s, q.job.submit_s)

    ordered = heapq.nsmallest(cfg.scan_depth, obs.queue, key=key)
    p = _Pass(obs, cfg)
    blocked: list[Job] = []
    for q in ordered[: cfg.scan_depth]:
        if not p.try_start(q.job):
            blocked.append(q.job)
    buys: list[NodeOffer] = []
    if obs.offers and blocked:
        # capacity still provisioning counts: plan blocked jobs onto it before buying more
        future = p.ledger.copy()
        for n in obs.nodes:
            if n.ready_s > obs.now_s:
                future.add_node(-n.id - 1, n.gpu, n.gpus)
        waiting = [j for j in blocked if _quota_ok(j, p.usage, obs.quotas) and future.place(j) is None]
        # GPUs still wanted after provisioning capacity: a big enough backlog buys the machine with the
        # cheapest price per GPU it will use, a lone job the cheapest machine that holds it
        backlog = sum(j.gpu_units for j in waiting)
        for job in waiting:
            if future.place(job) is not None:
                backlog -= job.gpu_units
                continue
            models = job.allowed_gpus

            def allowed(o: NodeOffer, job: Job = job, models: tuple[str, ...] = models) -> bool:
                return (not models or o.gpu in models) and o.gpu_memory_gib >= job.min_gpu_memory_gib

            offer, why = choose_offer(job, obs.offers, obs.now_s, cfg, allowed, max(backlog, job.gpu_units))
            if offer is None:
                continue
            buys.append(offer)
            p.reasons.append(why)
            future.add_node(-10_000_000 - len(buys), offer.gpu, offer.gpus)
            future.place(job)
            backlog -= job.gpu_units
    elif blocked and cfg.preempt:
        for job in blocked:
            p.preempt_lower_priority(job)
    release: list[int] = []
    wake = math.inf
    for n in obs.nodes:
        if not n.elastic or n.idle_since_s is None or n.ready_s > obs.now_s:
            continue
        due = n.idle_since_s + cfg.idle_grace_s
        gpus = p.ledger.node_gpus.get(n.id)
        still_idle = gpus is not None and bool(np.all(p.ledger.free[gpus] == MILLI_PER_GPU))
        if not still_idle:
            continue  # this pass just started a job on it
        if due <= obs.now_s and not buys:
            release.append(n.id)
            p.reasons.append(f"release idle node {n.id} ({n.gpus}×{n.gpu})")
        else:
            wake = min(wake, max(due, obs.now_s + 1.0))
    return p.decision(buy=tuple(buys), release=tuple(release),
                      wake_at_s=wake if wake < math.inf else None), state


POLICIES: dict[str, Policy] = {
    "fifo": fifo,
    "sjf": sjf,
    "las": las,
    "cost-aware": cost_aware,
}
ELASTIC_POLICIES = frozenset({"cost-aware"})
