"""Serve-plan benchmark: the plan on the public traces, and what it saves against the newest GPU on demand.

Run from the repository root:
    .venv/bin/python bench/bench_serveplan.py                    # 3 one-hour traces, about 1 CPU minute
    .venv/bin/python bench/bench_serveplan.py --profile P.yaml --catalog DIR --json
Traces: Azure LLM 2023 conv and code, Mooncake conversation (requests per 1 s step, the replay's loader).
Profile: src/costplane/examples/serve-profile.yaml (ILLUSTRATIVE throughput, not measurements).
Catalog: the bundled SkyPilot v8 snapshot unless --catalog. Oracle: the LP bound (serve-plan's default).
Baseline ("the habit"): the newest flagship GPU among the candidates (B200 here), one GPU per replica,
on demand, same trace, same policy, same SLO; the saving is the baseline's cost minus the choice's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from costplane.catalog import load_catalog  # noqa: E402
from costplane.core.errors import CostplaneError  # noqa: E402
from costplane.replay.serve_plan import run_serve_plan  # noqa: E402
from costplane.serveplan import read_profile, require_choice  # noqa: E402
from costplane.traces import load_trace  # noqa: E402

TRACES = ROOT.parent / "shared" / "data" / "traces"
PUBLIC = {
    "azure-conv": TRACES / "azure-llm-2023" / "AzureLLMInferenceTrace_conv.csv",
    "azure-code": TRACES / "azure-llm-2023" / "AzureLLMInferenceTrace_code.csv",
    "mooncake": TRACES / "mooncake-2025" / "conversation_trace.jsonl",
}


def _label(o: dict) -> str:
    name = f"{o['gpus_per_replica']} x {o['gpu']}" + (f" ({o['variant']})" if o.get("variant") else "")
    floor = f", floor {o['on_demand_floor']}" if o["purchase"] == "mixed" else ""
    return f"{name} {o['purchase']}{floor}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", type=Path, default=ROOT / "src" / "costplane" / "examples" / "serve-profile.yaml")
    ap.add_argument("--catalog", type=Path, default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    profile = read_profile(args.profile)
    catalog = load_catalog(args.catalog)
    rows = []
    for name, path in PUBLIC.items():
        t0 = time.process_time()
        plan = run_serve_plan(profile, load_trace(path), catalog)
        cpu = time.process_time() - t0
        d = plan.to_dict()
        try:
            require_choice(plan)
        except CostplaneError as exc:
            rows.append({"trace": name, "error": exc.message})
            continue
        c, b = d["choice"], d["baseline"]
        rows.append({"trace": name, "choice": _label(c), "cost_usd": c["cost_usd"],
                     "served": c["slo_served_fraction"], "baseline": _label(b) if b else None,
                     "baseline_cost_usd": b["cost_usd"] if b else None,
                     "baseline_served": b["slo_served_fraction"] if b else None,
                     "saving_usd": (d["saving_vs_baseline"] or {}).get("usd"),
                     "saving_fraction": (d["saving_vs_baseline"] or {}).get("fraction"),
                     "best_on_demand": next((_label(o) for o in d["candidates"]
                                             if o["purchase"] == "on-demand" and o["meets_slo"]), None),
                     "options": len(d["candidates"]), "meeting_slo": sum(o["meets_slo"] for o in d["candidates"]),
                     "cpu_s": round(cpu, 1)})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"profile {profile.name} ({args.profile.name}), SLO {100 * profile.slo.served:g} % within "
          f"{profile.slo.max_queue_s:g} s; catalog: {catalog.source}\n")
    print("| trace | choice | cost | served | newest GPU on demand | its cost | saving | best on-demand | CPU s |")
    print("|---|---|---:|---:|---|---:|---:|---|---:|")
    for r in rows:
        if "error" in r:
            print(f"| {r['trace']} | {r['error']} | | | | | | | |")
            continue
        print(f"| {r['trace']} | {r['choice']} | ${r['cost_usd']:.2f} | {100 * r['served']:.3f} % | {r['baseline']} "
              f"| ${r['baseline_cost_usd']:.2f} | ${r['saving_usd']:.2f} ({100 * r['saving_fraction']:.0f} %) "
              f"| {r['best_on_demand']} | {r['cpu_s']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
