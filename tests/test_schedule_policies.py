"""Small hand-computed schedules: every number below is worked out in the comment above its assert."""

from __future__ import annotations

import pytest

from costplane.replay.jobs import ClusterSpec, NodeSpec, replay_jobs
from costplane.schedule import (
    POLICIES,
    PRIORITY_HIGH,
    PRIORITY_LOW,
    Decision,
    Job,
    Ledger,
    NodeOffer,
    SchedConfig,
    TeamQuota,
    expected_spot_s,
    las_level,
)

# A 2-GPU cluster at $1 per GPU-hour.
TWO_GPUS = ClusterSpec((NodeSpec("V100", 2, 2.0),))

# EASY backfill ledger (2 GPUs):
#   job  submit  dur  gpus   fifo start/end         sjf start/end
#   A    0       100  1      0 → 100                0 → 100
#   B    1       50   2      100 → 150 (head)       252 → 302
#   C    2       50   1      2 → 52 (backfill:      2 → 52
#                              ends before shadow 100)
#   D    3       200  1      150 → 350 (would end   52 → 252
#                              after 100 on B's GPU)
EASY_JOBS = [Job("A", 0, 100, 1), Job("B", 1, 50, 2), Job("C", 2, 50, 1), Job("D", 3, 200, 1)]


def test_fifo_easy_backfill_exact_schedule():
    r = replay_jobs(EASY_JOBS, "fifo", TWO_GPUS)
    starts = {jid: rec[1] for jid, rec in r.records.items()}
    assert starts == {"A": 0, "C": 2, "B": 100, "D": 150}
    # JCT: A 100, C 50, B 149, D 347 → mean 161.5; queue: 0, 0, 99, 147 → mean 61.5
    assert r.avg_jct_s == pytest.approx(161.5)
    assert r.avg_queue_s == pytest.approx(61.5)
    # paid: 2 GPUs × 350 s; held: 100 + 50 + 2×50 + 200 = 450 GPU-s... plus nothing lost
    assert r.gpu_hours == pytest.approx(2 * 350 / 3600)
    assert r.cost_usd == pytest.approx(2.0 * 350 / 3600)
    assert r.gpu_utilisation == pytest.approx(450 / 700)
    assert (r.jobs, r.rejected, r.preemptions) == (4, 0, 0)


def test_fifo_without_backfill_keeps_submit_order():
    r = replay_jobs(EASY_JOBS, "fifo", TWO_GPUS, SchedConfig(backfill=False))
    starts = {jid: rec[1] for jid, rec in r.records.items()}
    # A 0→100, B 100→150, C and D both at 150
    assert starts == {"A": 0, "B": 100, "C": 150, "D": 150}


def test_sjf_exact_schedule():
    r = replay_jobs(EASY_JOBS, "sjf", TWO_GPUS)
    starts = {jid: rec[1] for jid, rec in r.records.items()}
    assert starts == {"A": 0, "C": 2, "D": 52, "B": 252}
    # JCT: A 100, C 50, D 249, B 301 → mean 175
    assert r.avg_jct_s == pytest.approx(175.0)


ONE_GPU = ClusterSpec((NodeSpec("V100", 1, 1.0),))


def test_priority_preemption_checkpointable_keeps_progress():
    # L (low, checkpointable every 1800 s) runs 0→2000; H (high) evicts it at 2000 and runs to 2100.
    # L keeps 1800 s, loses 200 GPU-s, resumes at 2100 with 2200 s left + 120 s restore → ends 4420.
    jobs = [Job("L", 0, 4000, 1, priority=PRIORITY_LOW, checkpointable=True),
            Job("H", 2000, 100, 1, priority=PRIORITY_HIGH)]
    r = replay_jobs(jobs, "fifo", ONE_GPU)
    assert r.preemptions == 1
    assert r.records["H"] == (2000, 2000, 2100)
    assert r.records["L"][2] == pytest.approx(4420)
    assert r.lost_gpu_hours == pytest.approx(200 / 3600)


def test_priority_preemption_restart_loses_everything():
    # same, not checkpointable: L restarts at 2100 for the full 4000 s → ends 6100; 2000 GPU-s lost
    jobs = [Job("L", 0, 4000, 1, priority=PRIORITY_LOW), Job("H", 2000, 100, 1, priority=PRIORITY_HIGH)]
    r = replay_jobs(jobs, "fifo", ONE_GPU)
    assert r.records["L"][2] == pytest.approx(6100)
    assert r.lost_gpu_hours == pytest.approx(2000 / 3600)


def test_no_restart_eviction_after_the_loss_guard():
    # L has run 5000 s > MAX_RESTART_LOSS_S (3600 s) when H arrives: H waits instead (6000 → 6100)
    jobs = [Job("L", 0, 6000, 1, priority=PRIORITY_LOW), Job("H", 5000, 100, 1, priority=PRIORITY_HIGH)]
    r = replay_jobs(jobs, "fifo", ONE_GPU)
    assert r.preemptions == 0
    assert r.records["H"] == (5000, 6000, 6100)


def test_fractional_jobs_share_one_gpu():
    # 0.5 + 0.5 share the GPU 0→100; 0.3 waits for room and runs 100→200
    jobs = [Job("a", 0, 100, 0.5), Job("b", 0, 100, 0.5), Job("c", 0, 100, 0.3)]
    r = replay_jobs(jobs, "fifo", ONE_GPU)
    assert {k: v[1] for k, v in r.records.items()} == {"a": 0, "b": 0, "c": 100}
    assert r.gpu_utilisation == pytest.approx((50 + 50 + 30) / 200)


def test_las_demotes_checkpointable_job_for_a_new_one():
    # A attains 3600 GPU-s at t=3600 (level 1). B arrives at 4000 (level 0) and evicts A:
    # A keeps floor(4000/1800)×1800 = 3600 s; B runs 4000→4100; A resumes with 6400 + 120 s → ends 10620.
    jobs = [Job("A", 0, 10_000, 1, checkpointable=True), Job("B", 4000, 100, 1)]
    r = replay_jobs(jobs, "las", ONE_GPU)
    assert r.records["B"] == (4000, 4000, 4100)
    assert r.records["A"][2] == pytest.approx(10_620)
    assert r.preemptions == 1
    assert las_level(0) == 0 and las_level(3600) == 1 and las_level(400_000) == 3


def test_team_quota_max_holds_back_second_job():
    # team a may hold 1 GPU: its second job waits for the first although a GPU is free
    jobs = [Job("a1", 0, 100, 1, team="a"), Job("a2", 0, 100, 1, team="a"), Job("b1", 0, 100, 1, team="b")]
    quotas = {"a": TeamQuota("a", 1, 1), "b": TeamQuota("b", 1, 2)}
    r = replay_jobs(jobs, "fifo", TWO_GPUS, quotas=quotas)
    assert {k: v[1] for k, v in r.records.items()} == {"a1": 0, "b1": 0, "a2": 100}


def test_rejections_are_counted_with_reasons():
    jobs = [Job("big", 0, 10, 4), Job("ok", 0, 10, 1), Job("neg", 0, -5, 1), Job("stranger", 0, 10, 1, team="x")]
    quotas = {"default": TeamQuota("default", 2, 2)}
    r = replay_jobs(jobs, "fifo", TWO_GPUS, quotas=quotas)
    assert r.jobs == 1 and r.rejected == 3
    assert r.rejected_by_reason == {"more GPUs than the cluster has": 1, "negative duration": 1, "unknown team": 1}
    model = replay_jobs([Job("t4", 0, 10, 1, allowed_gpus=("T4",))], "sjf", TWO_GPUS)
    assert model.rejected_by_reason == {"no GPU of an allowed model": 1}


def test_cost_aware_buys_then_releases():
    # nothing owned; a 1-GPU node costs $1/h and boots in 120 s: bought at 0, job runs 120→3720,
    # the replay ends at the last finish: paid 3720 s = $1.0333
    offers = (NodeOffer("V100", 1, 1.0, False, "aws", "us-east-1", "p3"),
              NodeOffer("V100", 8, 4.0, False, "aws", "us-east-1", "p3.16x"))
    r = replay_jobs([Job("j", 0, 3600, 1)], "cost-aware", ClusterSpec(offers=offers))
    assert r.records["j"] == (0, 120, 3720)
    assert r.cost_usd == pytest.approx(3720 / 3600)
    assert r.nodes_bought == 1
    # a backlog of 8 GPUs buys the 8-GPU machine ($0.5/GPU-h) instead of eight 1-GPU ones
    r8 = replay_jobs([Job(f"j{i}", 0, 3600, 1) for i in range(8)], "cost-aware", ClusterSpec(offers=offers))
    assert r8.nodes_bought == 1 and r8.cost_usd == pytest.approx(4.0 * 3720 / 3600)


def test_cost_aware_spot_only_when_expected_cheaper_and_deadline_allows():
    cfg = SchedConfig(spot_interruptions_per_hour=0.1)
    # restart-from-zero job of 1 h on spot: E[T] = (e^0.1 − 1)/λ = 1.0517 h
    assert expected_spot_s(Job("x", 0, 3600, 1), cfg) == pytest.approx(3600 * 1.05171, rel=1e-4)
    offers = (NodeOffer("V100", 1, 1.0, False, "aws", "r", "od"), NodeOffer("V100", 1, 0.3, True, "aws", "r", "sp"))
    r = replay_jobs([Job("j", 0, 3600, 1, checkpointable=True)], "cost-aware", ClusterSpec(offers=offers), cfg)
    assert r.cost_usd < 0.5  # ran on spot
    tight = replay_jobs([Job("j", 0, 3600, 1, deadline_s=4000)], "cost-aware", ClusterSpec(offers=offers), cfg)
    assert tight.cost_usd == pytest.approx(3720 / 3600)  # on-demand: spot could miss the deadline
    assert tight.deadline_misses == 0


def test_deadline_misses_counted():
    r = replay_jobs([Job("a", 0, 100, 1), Job("b", 0, 100, 1, deadline_s=150)], "fifo", ONE_GPU)
    assert r.deadline_misses == 1


def test_ledger_whole_and_fractional_placement():
    ledger = Ledger()
    ledger.add_node(0, "V100", 2)
    ledger.add_node(1, "T4", 1)
    frac = ledger.place(Job("f", 0, 1, 0.4))
    assert frac.tolist() == [0]
    # best fit: the next fraction goes onto the partly used GPU 0
    assert ledger.place(Job("g", 0, 1, 0.5)).tolist() == [0]
    assert ledger.find(Job("w", 0, 1, 2)) is None  # only one whole V100 left
    assert ledger.place(Job("t", 0, 1, 1, allowed_gpus=("T4",))).tolist() == [2]
    ledger.give(frac, 400)
    assert ledger.free.tolist() == [500, 1000, 0]


def test_registry_names_and_decision_kind():
    assert set(POLICIES) == {"fifo", "sjf", "las", "cost-aware"}
    assert Decision().kind == "noop"
    assert Decision(start=("a",), preempt=("b",)).kind == "preempt+start"
