"""Cost algebra: the golden ledger, the price split, over-commit, unpriced buckets, and exact-sum properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costplane.attribute import (
    CPU_USD_PER_VCPU_HOUR,
    MICRO_PER_USD,
    RAM_USD_PER_GIB_HOUR,
    Allocation,
    Asset,
    CostKind,
    CostSet,
    Window,
    aggregate,
    allocate,
    apportion,
    share_idle,
    split_node_price,
    to_cents,
)
from costplane.core.errors import InputError

H = 3600.0

# Golden ledger (STYLE #11). One node, 4 GPUs, 16 vCPU, 64 GiB, $10/h, window 0..2 h.
# Unit prices: CPU 0.031611, RAM 0.004237, GPU (10 - 16*0.031611 - 64*0.004237)/4 = 2.305764 $/GPU-h.
#
# | row          | GPU-h charged | vCPU-h | GiB-h | cost $     | used GPU-h | efficiency |
# |--------------|---------------|--------|-------|------------|------------|------------|
# | train (a/ml) | 2 GPU × 2 h=4 | 8×2=16 | 32×2  | 10.000000  | 1 × 2 = 2  | 0.50       |
# | chat (b/web) | 1 GPU × 1 h=1 | 0      | 0     |  2.305764  | 0.25       | 0.25       |
# | idle node-1  | 3             | 16     | 64    |  7.694236  | 0          | -          |
# | total        | 8             | 32     | 128   | 20.000000  |            |            |
GOLDEN_NODE = Asset("node-1", gpus=4, vcpus=16, memory_gib=64, price_usd_per_hour=10.0, start_s=0.0, end_s=2 * H)
GOLDEN_ALLOCS = (
    Allocation("train", "node-1", 0.0, 2 * H, gpus_requested=2, gpus_used=1, vcpus_requested=8, ram_gib_requested=32,
               team="a", project="ml"),
    Allocation("chat", "node-1", 0.0, 1 * H, gpus_requested=1, gpus_used=0.25, team="b", project="web"),
)


def test_golden_ledger():
    cs = allocate([GOLDEN_NODE], GOLDEN_ALLOCS, Window(0.0, 2 * H))
    by_workload = {r.label("workload"): r for r in cs.of_kind(CostKind.ALLOCATED)}
    assert by_workload["train"].cost_micro_usd == 10_000_000
    assert by_workload["train"].gpu_hours == pytest.approx(4.0)
    assert by_workload["train"].efficiency == pytest.approx(0.5)
    assert by_workload["chat"].cost_micro_usd == 2_305_764
    assert by_workload["chat"].efficiency == pytest.approx(0.25)
    (idle,) = cs.of_kind(CostKind.IDLE)
    assert idle.cost_micro_usd == 7_694_236 and idle.gpu_hours == pytest.approx(3.0)
    assert cs.total_micro_usd == 20_000_000


def test_price_split_worked_example_a2_ultragpu():
    u = split_node_price(23.56656, gpus=8, vcpus=96, memory_gib=1360)
    assert u.cpu_usd_per_vcpu_hour == CPU_USD_PER_VCPU_HOUR and u.ram_usd_per_gib_hour == RAM_USD_PER_GIB_HOUR
    assert u.gpu_usd_per_gpu_hour == pytest.approx(1.846198, abs=1e-6)
    assert 8 * u.gpu_usd_per_gpu_hour + 96 * u.cpu_usd_per_vcpu_hour + 1360 * u.ram_usd_per_gib_hour == pytest.approx(23.56656)


def test_price_split_caps_host_share_at_half():
    u = split_node_price(1.0, gpus=1, vcpus=64, memory_gib=512)  # host at GCP rates would be $4.19/h
    assert u.gpu_usd_per_gpu_hour == pytest.approx(0.5)
    assert 64 * u.cpu_usd_per_vcpu_hour + 512 * u.ram_usd_per_gib_hour == pytest.approx(0.5)


def test_overcommit_scales_down_and_idle_gpu_is_zero():
    node = Asset("n", 4, 0, 0, 8.0, 0.0, H)
    allocs = [Allocation(w, "n", 0.0, H, gpus_requested=3) for w in ("x", "y")]
    cs = allocate([node], allocs, Window(0.0, H))
    rows = cs.of_kind(CostKind.ALLOCATED)
    assert [r.cost_micro_usd for r in rows] == [4_000_000, 4_000_000]
    assert cs.micro_usd_of(CostKind.IDLE) == 0 and cs.total_micro_usd == 8_000_000


def test_unpriced_node_and_unknown_node_are_kept_not_dropped():
    node = Asset("dark", 8, 0, 0, None, 0.0, H)
    allocs = [Allocation("w1", "dark", 0.0, H, 2, 1), Allocation("w2", "ghost", 0.0, H, 1, 0.5)]
    cs = allocate([node], allocs, Window(0.0, H))
    unpriced = cs.of_kind(CostKind.UNPRICED)
    assert {r.label("workload") for r in unpriced} == {"w1", "w2"}
    assert sum(r.gpu_hours for r in unpriced) == pytest.approx(3.0)
    assert cs.total_micro_usd == 0
    agg = aggregate(cs, "team")
    assert [r.kind for r in agg.rows] == [CostKind.UNPRICED]


def test_window_clips_assets_and_allocations():
    cs = allocate([GOLDEN_NODE], GOLDEN_ALLOCS, Window(H, 3 * H))  # node lives 0..2 h: one hour inside
    assert cs.total_micro_usd == 10_000_000
    assert {r.label("workload") for r in cs.of_kind(CostKind.ALLOCATED)} == {"train"}


def test_costset_refuses_to_combine_different_windows():
    a, b = CostSet(Window(0, H)), CostSet(Window(0, 2 * H))
    with pytest.raises(InputError, match="cannot combine"):
        a.combine(b)
    assert a.combine(CostSet(Window(0, H))).window == Window(0, H)


def test_bad_window_and_group_by_are_input_errors():
    with pytest.raises(InputError):
        Window(10.0, 10.0)
    with pytest.raises(InputError, match="cannot group"):
        aggregate(CostSet(Window(0, H)), "colour")


def test_apportion_and_to_cents_are_exact():
    assert apportion(10, [1, 1, 1]) == [4, 3, 3]
    assert apportion(7, [0, 0]) == [7, 0]
    cents = to_cents([333_333, 333_333, 333_334])  # $1.000000 in three thirds
    assert sum(cents) == 100 and sorted(cents) == [33, 33, 34]


# ---------------------------------------------------------------- properties

assets_st = st.lists(
    st.builds(
        lambda i, gpus, vcpus, mem, price, start, length: Asset(
            f"n{i}", gpus, vcpus, mem, price, start, start + length),
        st.integers(0, 5), st.integers(0, 8), st.integers(0, 128), st.integers(0, 2048),
        st.one_of(st.none(), st.floats(0.0, 200.0, allow_nan=False)),
        st.floats(0, 50 * H), st.floats(1.0, 100 * H),
    ),
    max_size=6, unique_by=lambda a: a.name,
)
allocs_st = st.lists(
    st.builds(
        lambda w, node, start, length, req, used, cpu, ram, team: Allocation(
            f"w{w}", f"n{node}", start, start + length, req, used, cpu, 0.0, ram, 0.0, team=f"t{team}",
            project=f"p{w % 3}"),
        st.integers(0, 9), st.integers(0, 6), st.floats(0, 60 * H), st.floats(1.0, 50 * H),
        st.floats(0, 16), st.floats(0, 16), st.floats(0, 200), st.floats(0, 4096), st.integers(0, 3),
    ),
    max_size=25,
)
window_st = st.builds(lambda s, length: Window(s, s + length), st.floats(0, 80 * H), st.floats(1.0, 200 * H))


def _expected_total(assets, window) -> int:
    out = 0
    for a in assets:
        if a.price_usd_per_hour is None:
            continue
        hours = max(0.0, min(a.end_s, window.end_s) - max(a.start_s, window.start_s)) / H
        if hours > 0:
            out += round(a.price_usd_per_hour * hours * MICRO_PER_USD)
    return out


@settings(max_examples=150, deadline=None)
@given(assets_st, allocs_st, window_st)
def test_allocations_plus_idle_equal_asset_cost_exactly(assets, allocs, window):
    cs = allocate(assets, allocs, window)
    allocated, idle, unpriced = (cs.micro_usd_of(k) for k in (CostKind.ALLOCATED, CostKind.IDLE, CostKind.UNPRICED))
    assert unpriced == 0
    assert allocated + idle == cs.total_micro_usd == _expected_total(assets, window)
    assert all(r.cost_micro_usd >= 0 for r in cs.rows)
    assert all(r.gpu_cost_micro_usd + r.cpu_cost_micro_usd + r.ram_cost_micro_usd == r.cost_micro_usd
               for r in cs.rows)
    assert all(r.used_gpu_hours <= r.gpu_hours + 1e-9 for r in cs.rows)


@settings(max_examples=100, deadline=None)
@given(assets_st, allocs_st, window_st, st.sampled_from(["team", "project", "workload", "node"]))
def test_aggregation_and_idle_sharing_preserve_totals(assets, allocs, window, by):
    cs = allocate(assets, allocs, window)
    agg = aggregate(cs, by)
    assert agg.window == cs.window
    for kind in CostKind:
        assert agg.micro_usd_of(kind) == cs.micro_usd_of(kind)
    assert sum(r.gpu_hours for r in agg.rows) == pytest.approx(sum(r.gpu_hours for r in cs.rows))
    shared = share_idle(agg)
    assert shared.total_micro_usd == agg.total_micro_usd
    if agg.micro_usd_of(CostKind.ALLOCATED) > 0:
        assert shared.micro_usd_of(CostKind.IDLE) == 0
    cents = to_cents([r.cost_micro_usd for r in agg.rows])
    assert sum(cents) == round(agg.total_micro_usd / 10_000) and min(cents, default=0) >= 0


@settings(max_examples=60, deadline=None)
@given(assets_st, allocs_st, window_st)
def test_allocation_index_gives_the_same_cost_set(assets, allocs, window):
    from costplane.attribute import AllocationIndex

    direct = aggregate(allocate(assets, allocs, window), "workload")
    indexed = aggregate(AllocationIndex(allocs).cost_set(assets, window), "workload")
    assert direct == indexed
