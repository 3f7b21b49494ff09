"""GPU ledger: free milli-GPUs of every ready GPU, and the one deterministic placement rule.

Pure data structure (numpy, no I/O). The simulator holds the true ledger; policies plan on a
`copy()` so several starts in one decision never collide, and because `find` is deterministic the
simulator, applying the same starts in the same order, lands on the same GPUs.

Placement rule (documented simplification): a whole-GPU gang of k takes k fully free GPUs of ONE
model anywhere in the pool (no intra-node topology); a fractional job takes part of one GPU,
best fit (the fullest GPU that still has room), so shared GPUs are packed before fresh ones are cut.
Ties go to GPUs on the busiest node, so lightly used nodes drain and an elastic cluster can release them.
Models are tried in the order they were first added (the simulator adds cheapest first).
"""

from __future__ import annotations

import numpy as np

from costplane.core.gpus import gpu_memory_gib
from costplane.schedule._model import MILLI_PER_GPU, Job

GONE = -1  # free value of a GPU whose node was released: never fits anything


class Ledger:
    def __init__(self) -> None:
        self.free = np.empty(0, dtype=np.int32)
        self.gpu_model = np.empty(0, dtype=np.int32)
        self.gpu_slot = np.empty(0, dtype=np.int32)   # dense node slot of each GPU
        self.slot_busy = np.empty(0, dtype=np.int32)  # GPUs of each node slot in (partial) use
        self.models: list[str] = []
        self.model_gpus: dict[int, np.ndarray] = {}
        self.full_free: dict[int, int] = {}
        self.node_gpus: dict[int, np.ndarray] = {}
        self.node_model: dict[int, int] = {}
        self._allowed_cache: dict[tuple[tuple[str, ...], float], tuple[int, ...]] = {}

    # --- building -------------------------------------------------------------------------
    def add_node(self, node_id: int, gpu: str, gpus: int) -> None:
        if gpu not in self.models:
            self.models.append(gpu)
            self._allowed_cache = {}
        m = self.models.index(gpu)
        start = len(self.free)
        idx = np.arange(start, start + gpus, dtype=np.int64)
        self.free = np.concatenate([self.free, np.full(gpus, MILLI_PER_GPU, dtype=np.int32)])
        self.gpu_model = np.concatenate([self.gpu_model, np.full(gpus, m, dtype=np.int32)])
        self.gpu_slot = np.concatenate([self.gpu_slot, np.full(gpus, len(self.slot_busy), dtype=np.int32)])
        self.slot_busy = np.concatenate([self.slot_busy, np.zeros(1, dtype=np.int32)])
        self.model_gpus = dict(self.model_gpus)
        self.model_gpus[m] = np.concatenate([self.model_gpus.get(m, np.empty(0, np.int64)), idx])
        self.full_free[m] = self.full_free.get(m, 0) + gpus
        self.node_gpus[node_id] = idx
        self.node_model[node_id] = m

    def remove_node(self, node_id: int) -> None:
        idx = self.node_gpus.pop(node_id)
        m = self.node_model.pop(node_id)
        self.full_free[m] -= int(np.count_nonzero(self.free[idx] == MILLI_PER_GPU))
        self.free[idx] = GONE
        keep = self.model_gpus[m]
        self.model_gpus = dict(self.model_gpus)
        self.model_gpus[m] = keep[~np.isin(keep, idx)]

    def copy(self) -> Ledger:
        other = Ledger.__new__(Ledger)
        other.free = self.free.copy()
        other.gpu_model = self.gpu_model  # replaced, never mutated in place
        other.gpu_slot = self.gpu_slot  # replaced, never mutated in place
        other.slot_busy = self.slot_busy.copy()
        other.models = list(self.models)
        other.model_gpus = self.model_gpus  # replaced, never mutated in place
        other.full_free = dict(self.full_free)
        other.node_gpus = dict(self.node_gpus)
        other.node_model = dict(self.node_model)
        other._allowed_cache = self._allowed_cache
        return other

    # --- queries --------------------------------------------------------------------------
    def allowed_models(self, job: Job) -> tuple[int, ...]:
        key = (job.allowed_gpus, job.min_gpu_memory_gib)
        hit = self._allowed_cache.get(key)
        if hit is None:
            hit = tuple(
                m for m, name in enumerate(self.models)
                if (not job.allowed_gpus or name in job.allowed_gpus)
                and (job.min_gpu_memory_gib <= 0 or (gpu_memory_gib(name) or 0.0) >= job.min_gpu_memory_gib)
            )
            self._allowed_cache[key] = hit
        return hit

    def total_gpus(self, models: tuple[int, ...] | None = None) -> int:
        ms = range(len(self.models)) if models is None else models
        return sum(len(self.model_gpus.get(m, ())) for m in ms)

    def free_gpu_units(self) -> float:
        live = self.free[self.free > 0]
        return float(live.sum()) / MILLI_PER_GPU

    def find(self, job: Job) -> np.ndarray | None:
        """GPU indices the job would take now, or None when it does not fit."""
        models = self.allowed_models(job)
        k = job.whole_gpus
        if k:
            for m in models:
                if self.full_free.get(m, 0) >= k:
                    idx = self.model_gpus[m]
                    cands = idx[self.free[idx] == MILLI_PER_GPU]
                    if cands.size > k:  # pack: GPUs of the busiest nodes first, so others drain
                        cands = cands[np.argsort(-self.slot_busy[self.gpu_slot[cands]], kind="stable")]
                    return cands[:k]
            return None
        need = job.milli
        for m in models:
            idx = self.model_gpus.get(m)
            if idx is None or idx.size == 0:
                continue
            f = self.free[idx]
            room = np.where(f >= need, f, MILLI_PER_GPU + 1).astype(np.int64)
            # best fit; among equal room, the GPU on the busiest node (so other nodes drain)
            key = room * 4096 - self.slot_busy[self.gpu_slot[idx]]
            best = int(np.argmin(key))
            if room[best] <= MILLI_PER_GPU:
                return idx[best:best + 1]
        return None

    def take(self, idx: np.ndarray, milli: int) -> None:
        for g in idx.tolist():
            before = int(self.free[g])
            assert before >= milli, "ledger over-allocation"
            self.free[g] = before - milli
            if before == MILLI_PER_GPU:
                self.full_free[self._model_of(g)] -= 1
                self.slot_busy[self.gpu_slot[g]] += 1

    def give(self, idx: np.ndarray, milli: int) -> None:
        for g in idx.tolist():
            after = int(self.free[g]) + milli
            assert after <= MILLI_PER_GPU, "ledger over-release"
            self.free[g] = after
            if after == MILLI_PER_GPU:
                self.full_free[self._model_of(g)] += 1
                self.slot_busy[self.gpu_slot[g]] -= 1

    def _model_of(self, g: int) -> int:
        return int(self.gpu_model[g])

    def place(self, job: Job) -> np.ndarray | None:
        """find + take: the GPUs now held by the job, or None (ledger unchanged)."""
        idx = self.find(job)
        if idx is not None:
            self.take(idx, job.milli)
        return idx
