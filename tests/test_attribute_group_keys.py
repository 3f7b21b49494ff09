"""Grouping by several keys and by Kubernetes properties: money is never created or lost (property tests)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costplane.attribute import (
    CostKind,
    CostRow,
    CostSet,
    Window,
    aggregate,
    group_keys,
    to_cents,
    with_properties,
)
from costplane.core.errors import InputError

W = Window(0.0, 3600.0)
WORKLOADS = ("chat", "train", "eval", "")
PROPS = {"chat": {"namespace": "serving", "cluster": "prod", "labels": {"app": "chat", "tier": "online"},
                  "team": "product"},
         "train": {"namespace": "ml", "cluster": "prod", "labels": {"app": "trainer"}},
         "alias-of-chat": {"namespace": "serving", "team": "product", "workload": "chat"}}

rows = st.lists(st.tuples(st.sampled_from(WORKLOADS + ("alias-of-chat",)), st.sampled_from(("a", "b", "")),
                          st.sampled_from(list(CostKind)), st.integers(0, 10**9), st.floats(0, 100)),
                max_size=30)
keys = st.lists(st.sampled_from(("team", "workload", "namespace", "cluster", "label:app", "label:tier", "node")),
                min_size=1, max_size=3, unique=True)


def _set(raw) -> CostSet:
    out = []
    for workload, team, kind, micro, gpu_h in raw:
        labels = (("workload", workload), ("team", team), ("node", "n1")) if kind is not CostKind.IDLE else (("node", "n1"),)
        out.append(CostRow(labels, kind, micro, gpu_hours=gpu_h))
    return CostSet(W, tuple(out))


@settings(max_examples=200, deadline=None)
@given(rows, keys)
def test_any_grouping_keeps_the_total_and_the_cents(raw, by):
    cs = with_properties(_set(raw), PROPS)
    assert cs.total_micro_usd == _set(raw).total_micro_usd  # properties change labels only
    agg = aggregate(cs, ",".join(by))
    assert agg.total_micro_usd == cs.total_micro_usd
    for kind in CostKind:
        assert agg.micro_usd_of(kind) == cs.micro_usd_of(kind)
    allocated = agg.of_kind(CostKind.ALLOCATED)
    names = [r.label(",".join(by)) for r in allocated]
    assert len(names) == len(set(names))  # one row per combination
    assert all(len(n.split("/")) == len(by) for n in names)
    assert sum(to_cents(r.cost_micro_usd for r in agg.rows)) == round(cs.total_micro_usd / 10_000)


def test_properties_rename_aliases_and_fill_team():
    cs = with_properties(_set([("alias-of-chat", "", CostKind.ALLOCATED, 5, 1.0),
                               ("chat", "", CostKind.ALLOCATED, 7, 1.0)]), PROPS)
    (row,) = aggregate(cs, "workload,namespace,team").rows
    assert row.label("workload,namespace,team") == "chat/serving/product" and row.cost_micro_usd == 12


@pytest.mark.parametrize("bad", ["", "pod", "label:", "team,,bogus"])
def test_unknown_keys_are_input_errors(bad):
    with pytest.raises(InputError, match="To fix|label:KEY") as info:
        group_keys(bad)
    assert "To fix" in str(info.value)
