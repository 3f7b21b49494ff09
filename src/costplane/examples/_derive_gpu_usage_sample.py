"""Derive the bundled GPU-usage sample (gpu_usage_sample*.csv) from the Alibaba GenAI 2026 usage trace.

Run from the repo root:  .venv/bin/python src/costplane/examples/_derive_gpu_usage_sample.py
Reads ../shared/data/traces/alibaba-genai-2026-usage/ (CC-BY-4.0) and writes 5-minute means of
GPU utilisation and memory for 30 of its containers, with deterministic team/project/node labels.
See gpu_usage_sample.SOURCE.md for the rules. Not imported by the package.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
TRACE = HERE.parents[2] / ".." / "shared" / "data" / "traces" / "alibaba-genai-2026-usage"
BIN_S = 300
CONTAINERS = 30
GPUS_PER_NODE = 8
NODES = 4  # 32 GPU slots for 30 containers: two slots stay empty (idle)
# team -> projects; a container's team and project come from its hashed id, so the rule is stable.
TEAMS = {
    "creative": ("sdxl-serve", "inpaint-api"),
    "marketing": ("banner-gen", "ad-variants"),
    "research": ("eval-harness", "distill-exp"),
}


def _digest(container: str) -> int:
    return int(hashlib.sha256(container.encode()).hexdigest(), 16)


def main() -> None:
    util = pd.read_csv(TRACE / "pod_gpu_duty_cycle_anon.csv")
    mem = pd.read_csv(TRACE / "pod_gpu_memory_used_bytes_anon.csv")
    counts = util.groupby("container_ip").size()
    eligible = sorted(counts[counts >= 200].index)  # containers with at least ~3 h of samples
    chosen = eligible[::2][:CONTAINERS]
    rows = []
    for i, c in enumerate(chosen):
        team = sorted(TEAMS)[_digest(c) % len(TEAMS)]
        project = TEAMS[team][(_digest(c) // 7) % 2]
        node = f"node-{i // GPUS_PER_NODE + 1}"
        u = util[util.container_ip == c].assign(bin=lambda d: (d.timestamp_anon // BIN_S) * BIN_S)
        m = mem[mem.container_ip == c].assign(bin=lambda d: (d.timestamp_anon // BIN_S) * BIN_S)
        per_bin = u.groupby("bin").value.mean().to_frame("gpu_util_pct").join(
            (m.groupby("bin").value.mean() / 2**30).rename("gpu_memory_gib"), how="left")
        for ts, r in per_bin.iterrows():
            rows.append((int(ts), f"{project}-{c[:6]}", team, project, node, round(r.gpu_util_pct, 2),
                         None if pd.isna(r.gpu_memory_gib) else round(r.gpu_memory_gib, 2)))
    out = pd.DataFrame(rows, columns=["timestamp", "workload", "team", "project", "node", "gpu_util_pct",
                                      "gpu_memory_gib"]).sort_values(["timestamp", "workload"])
    # The series is in the `costplane waste` input format; labels go in a small table beside it.
    out[["timestamp", "workload", "gpu_util_pct", "gpu_memory_gib"]].to_csv(HERE / "gpu_usage_sample.csv", index=False)
    labels = out[["workload", "team", "project", "node"]].drop_duplicates().sort_values("workload")
    labels.to_csv(HERE / "gpu_usage_sample_workloads.csv", index=False)
    nodes = pd.DataFrame([(f"node-{k + 1}", "gcp", "us-central1", "a2-ultragpu-8g", "A100-80GB", GPUS_PER_NODE, 96,
                           1360) for k in range(NODES)],
                         columns=["node", "cloud", "region", "instance_type", "gpu", "gpus", "vcpus", "memory_gib"])
    nodes.to_csv(HERE / "gpu_usage_sample_nodes.csv", index=False)
    print(f"{len(out)} rows, {out.workload.nunique()} workloads, {NODES} nodes")


if __name__ == "__main__":
    main()
