"""Replay runs the live Controller: identical fleets, service and cost to replay's former step loop.

tests/reference/legacy_replay.py is that loop as it stood before (commit 3a6099e); every policy over
the public traces (whole), with and without a queue budget and with scale to zero, must give the same
paid and ready replicas at every step, the same cold starts, decisions and served demand.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from reference.legacy_replay import legacy_replay

from costplane.autoscale import POLICIES, AutoscaleConfig, read_service_spec
from costplane.replay.inference import replay_inference
from costplane.traces import load_trace

TRACES = {"azure-conv": "azure-llm-2023/AzureLLMInferenceTrace_conv.csv",
          "azure-code": "azure-llm-2023/AzureLLMInferenceTrace_code.csv",
          "mooncake": "mooncake-2025/conversation_trace.jsonl"}


@pytest.fixture(scope="module")
def loaded(traces_dir):
    return {name: load_trace(traces_dir / path) for name, path in TRACES.items()}


@pytest.mark.parametrize("trace", sorted(TRACES))
@pytest.mark.parametrize("variant", ["queue", "no-queue", "scale-to-zero"])
def test_controller_driven_replay_equals_the_former_step_loop(shared_dir, loaded, trace, variant):
    spec = read_service_spec(shared_dir / "examples/chat-service.yaml")
    if variant == "no-queue":
        spec = replace(spec, max_queue_s=0.0)
    elif variant == "scale-to-zero":
        spec = replace(spec, scale_to_zero=True, min_replicas=0)
    series = loaded[trace]
    for policy in POLICIES:
        cfg = AutoscaleConfig(service=spec)
        new = replay_inference(series, spec, policy, 1.0, cfg, with_oracle=False)
        old = legacy_replay(series, spec, policy, cfg)
        assert np.array_equal(new.up_replicas, old["up"]), f"{policy}: paid replicas differ"
        assert np.array_equal(new.ready_replicas, old["ready"]), f"{policy}: ready replicas differ"
        assert new.cold_starts == old["cold_starts"] and new.decisions == old["decisions"], policy
        assert new.served_units == pytest.approx(old["served"], rel=1e-12, abs=1e-9), policy
        assert new.unserved_units == pytest.approx(old["unserved"], rel=1e-12, abs=1e-9), policy
