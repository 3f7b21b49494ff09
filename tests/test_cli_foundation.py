"""The foundation's CLI contracts: `catalog`, `place`, `plan` JSON shapes, `--catalog`, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"

PLACE_KEYS = {"cloud", "region", "zone", "instance_type", "gpu", "gpus_per_node", "nodes", "spot", "hourly_usd",
              "total_usd"}
OFFER_KEYS = {"cloud", "region", "zone", "instance_type", "gpu", "gpu_memory_gib", "gpus", "vcpus", "memory_gib",
              "price_usd_per_hour", "spot_price_usd_per_hour"}
ASSIGNMENT_KEYS = {"workload", "cloud", "region", "instance_type", "gpu", "gpus_per_node", "nodes", "spot",
                   "hourly_usd", "total_usd"}


def _catalog_row(catalog, p: dict):
    return [o for o in catalog.offers if (o.cloud, o.region, o.zone, o.instance_type) ==
            (p["cloud"], p["region"], p["zone"], p["instance_type"])]


def test_place_json_contract(cli, bundled_catalog):
    result = cli("place", "--gpu", "H100", "--gpus", "8", "--hours", "10", "--json")
    assert result.code == 0 and result.err == ""
    out = result.json()
    assert out["request"]["gpu"] == "H100" and out["request"]["gpus_per_node"] == 8
    offers = out["offers"]
    assert offers and all(set(o) >= PLACE_KEYS for o in offers)
    totals = [o["total_usd"] for o in offers]
    assert totals == sorted(totals)
    for o in offers:
        assert o["gpu"] == "H100" and o["gpus_per_node"] == 8 and o["nodes"] == 1 and o["spot"] is False
        assert o["total_usd"] == pytest.approx(o["hourly_usd"] * 10, rel=1e-6)
        [row] = _catalog_row(bundled_catalog, o)
        assert row.price_usd_per_hour == pytest.approx(o["hourly_usd"], rel=1e-6)
    cheapest = min(x.price_usd_per_hour for x in bundled_catalog.offers
                   if x.gpu == "H100" and x.gpus == 8 and x.price_usd_per_hour is not None)
    assert offers[0]["hourly_usd"] == pytest.approx(cheapest, rel=1e-6)


def test_place_nodes_spot_and_filters(cli):
    out = cli("place", "--gpu", "A100-80GB", "--gpus", "8", "--nodes", "3", "--hours", "2", "--spot",
              "--cloud", "aws", "--cloud", "GCP", "--limit", "200", "--json").json()
    offers = out["offers"]
    assert {o["cloud"] for o in offers} <= {"aws", "gcp"} and any(o["spot"] for o in offers)
    assert all(o["nodes"] == 3 and o["total_usd"] == pytest.approx(2 * o["hourly_usd"], rel=1e-6) for o in offers)
    regions = cli("place", "--gpu", "L4", "--hours", "1", "--region", "us-central1", "--json").json()["offers"]
    assert regions and {o["region"] for o in regions} == {"us-central1"}


def test_place_with_the_skypilot_directory(cli, skypilot_dir, skypilot_catalog):
    out = cli("place", "--gpu", "H100", "--gpus", "8", "--hours", "10", "--catalog", skypilot_dir, "--json").json()
    assert "SkyPilot" in out["catalog"]["source"]
    for o in out["offers"]:
        assert any(r.price_usd_per_hour == pytest.approx(o["hourly_usd"], rel=1e-9)
                   for r in _catalog_row(skypilot_catalog, o))


def test_catalog_json_contract(cli, bundled_catalog):
    out = cli("catalog", "--json").json()
    assert out["as_of"] and out["source"]
    assert len(out["offers"]) == len(bundled_catalog)
    assert all(set(o) >= OFFER_KEYS for o in out["offers"])


def test_catalog_filters_and_aliases(cli, skypilot_dir):
    out = cli("catalog", "--catalog", skypilot_dir, "--gpu", "H100-SXM", "--cloud", "AWS", "--region", "us-east-1",
              "--json").json()
    assert out["offers"]
    assert {(o["gpu"], o["cloud"], o["region"]) for o in out["offers"]} == {("H100", "aws", "us-east-1")}
    known = cli("catalog", "--gpus-known", "--json").json()["gpus"]
    assert {"H100", "A100", "A100-80GB", "L4", "T4"} <= set(known)


def test_catalog_import_writes_a_loadable_csv(cli, tmp_path, skypilot_dir, skypilot_catalog):
    out = tmp_path / "imported.csv"
    result = cli("catalog-import", skypilot_dir, "--out", out, "--as-of", "2026-11-25")
    assert result.code == 0 and out.exists()
    data = cli("catalog", "--catalog", out, "--json").json()
    assert data["as_of"] == "2026-11-25" and len(data["offers"]) == len(skypilot_catalog)


def test_plan_json_contract(cli, tmp_path, bundled_catalog):
    from costplane.cli._demo import example_path

    result = cli("plan", example_path("fleet.yaml"), "--json")
    assert result.code == 0, result.err
    out = result.json()
    assert out["status"] == "optimal"
    assert out["naive_total_usd"] >= out["total_usd"] > 0
    assert out["total_usd"] == pytest.approx(sum(a["total_usd"] for a in out["assignments"]), abs=1e-4)
    assert all(set(a) >= ASSIGNMENT_KEYS for a in out["assignments"])
    assert len({a["workload"] for a in out["assignments"]}) == len(out["assignments"]) == 7


def test_plan_accepts_json_files(cli, tmp_path, skypilot_dir):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"workloads": [{"name": "a", "gpu": "T4", "gpus": 1, "hours": 5}]}))
    out = cli("plan", path, "--catalog", skypilot_dir, "--json").json()
    assert out["status"] == "optimal" and out["assignments"][0]["workload"] == "a"


BAD_PLANS = {
    "malformed YAML": ("plan.yaml", "workloads: [ {name: a, gpu: H100\n", "YAML"),
    "missing workloads": ("plan.yaml", "quotas: []\n", "workloads"),
    "negative gpus": ("plan.yaml", "workloads:\n  - {name: a, gpu: H100, gpus: -8, hours: 1}\n", "gpus"),
    "unknown GPU": ("plan.yaml", "workloads:\n  - {name: a, gpu: H1000, gpus: 8, hours: 1}\n",
                    "workload a: unknown GPU model 'H1000'; nearest known: H100"),
    "bad JSON": ("plan.json", '{"workloads": [', "JSON"),
    "not a mapping": ("plan.yaml", "- just\n- a list\n", "workloads"),
}


@pytest.mark.parametrize("case", sorted(BAD_PLANS))
def test_bad_plan_files_are_one_line_errors(cli, tmp_path, case):
    name, body, needle = BAD_PLANS[case]
    path = tmp_path / name
    path.write_text(body)
    result = cli("plan", path, "--json")
    assert result.code != 0 and result.out == ""
    assert len(result.err_lines) == 1, result.err
    assert needle in result.err_lines[0] and "Traceback" not in result.err


def test_missing_plan_file_is_one_line(cli, tmp_path):
    result = cli("plan", tmp_path / "nope.yaml", "--json")
    assert result.code != 0 and len(result.err_lines) == 1


def test_console_script_exit_code_and_stderr(tmp_path):
    """The installed entry point (not only main()) exits non-zero with one stderr line."""
    exe = Path(sys.executable).with_name("costplane")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "costplane.cli"]
    p = subprocess.run([*cmd, "place", "--gpu", "H100", "--gpus", "3", "--hours", "1", "--json"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and p.stdout == ""
    assert len(p.stderr.strip().splitlines()) == 1 and "GPUs per node" in p.stderr


@pytest.mark.slow
def test_contract_check_place_plan_catalog_hold():
    """The shared smoke check: only the foundation's lines are asserted (other commands are built elsewhere)."""
    checker = SHARED / "bin" / "contract-check"
    exe = Path(sys.executable).with_name("costplane")
    if not checker.exists() or not exe.exists():
        pytest.skip("contract-check or the costplane console script is not available")
    p = subprocess.run([sys.executable, str(checker), str(exe)], capture_output=True, text=True, timeout=600,
                       cwd=REPO_ROOT)
    # lines are "NAME<padding>STATUS", where NAME may hold a space ("place --sky-yaml")
    status = {}
    for line in p.stdout.splitlines():
        name, sep, rest = line.partition("  ")
        if sep and rest.strip():
            status[name.strip()] = rest.strip()
    for name in ("place", "plan", "catalog"):
        assert status.get(name) == "ok", f"{name}: {status.get(name)!r}\n{p.stdout}"
