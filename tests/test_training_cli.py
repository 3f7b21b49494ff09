"""`costplane train-plan` and `costplane hpo` from the outside: JSON shape, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from costplane.cli import main

REPO = Path(__file__).resolve().parents[1]
SKYPILOT = REPO / ".." / "shared" / "data" / "catalog" / "skypilot-v8"
EXAMPLE = REPO / "src" / "costplane" / "examples" / "train-llama-8b.yaml"

CONTRACT_PROFILE = """\
name: llama-8b-finetune
work: 2.0e9
memory_gib_per_gpu: 60
throughput:
  - {gpu: H100, gpus: 8, units_per_s: 41000}
  - {gpu: H100, gpus: 16, units_per_s: 78000}
  - {gpu: A100-80GB, gpus: 8, units_per_s: 17500}
checkpoint_interval_s: 1800
restore_s: 300
"""


@pytest.fixture
def run(capsys):
    """The CLI in-process (as `costplane ARGS`): returns (exit code, stdout, stderr)."""

    def _run(*args: str) -> subprocess.CompletedProcess:
        code = main(list(args))
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, captured.out, captured.err)

    return _run


def run_process(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from costplane.cli import run; run()", *args],
                          capture_output=True, text=True, timeout=120)


def write(tmp_path: Path, text: str, name: str = "job.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.skipif(not SKYPILOT.is_dir(), reason="shared SkyPilot catalog not present")
def test_contract_example_on_the_skypilot_directory(tmp_path):
    out = run_process("train-plan", str(write(tmp_path, CONTRACT_PROFILE)), "--deadline", "48h",
              "--catalog", str(SKYPILOT), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data["choice"]) >= {"cloud", "region", "instance_type", "gpu", "gpus", "nodes", "spot"}
    c = data["choice"]
    assert c["gpu"] == "H100" and c["gpus"] % c["nodes"] == 0
    assert 0 < data["expected_hours"] <= 48 and data["expected_cost_usd"] > 0
    hours = [f["expected_hours"] for f in data["frontier"]]
    assert hours == sorted(hours)
    for f in data["frontier"]:
        assert set(f) >= {"gpu", "gpus", "spot", "expected_hours", "expected_cost_usd"}
    assert "A100-80GB" in out.stderr  # skipped with a warning: one point only


def test_example_profile_text_and_plot(run, tmp_path):
    png = tmp_path / "frontier.png"
    out = run("train-plan", str(EXAMPLE), "--deadline", "24h", "--plot", str(png))
    assert out.returncode == 0, out.stderr
    assert "choice within 24 h" in out.stdout
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_interruption_rates_file_moves_the_choice_off_spot(run, tmp_path):
    rates = write(tmp_path, "default: 40\n", "rates.yaml")
    out = run("train-plan", str(EXAMPLE), "--interruption-rates", str(rates), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["choice"]["spot"] is False


BAD = {
    "one point per model": (CONTRACT_PROFILE.replace("  - {gpu: H100, gpus: 16, units_per_s: 78000}\n", ""),
                            2, "two or more GPU counts"),
    "zero throughput": (CONTRACT_PROFILE.replace("78000", "0"), 2, "units_per_s` must be > 0"),
    "negative work": (CONTRACT_PROFILE.replace("2.0e9", "-5"), 2, "`work` must be > 0"),
    "fits no memory": (CONTRACT_PROFILE.replace("memory_gib_per_gpu: 60", "memory_gib_per_gpu: 100"), 1,
                       "fits no measured GPU"),
    "unknown gpu": (CONTRACT_PROFILE.replace("gpu: H100, gpus: 8", "gpu: H1000, gpus: 8"), 2, "nearest known: H100"),
    "not yaml": ("name: [unclosed\n", 2, "not valid YAML/JSON at line"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_profile_is_one_line_and_non_zero(run, tmp_path, case):
    text, code, needle = BAD[case]
    out = run("train-plan", str(write(tmp_path, text)), "--json")
    assert out.returncode == code, out.stderr
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "To fix:" in lines[0], out.stderr


@pytest.mark.parametrize("deadline, code, needle", [("0h", 2, "must be a positive"), ("-3h", 2, "duration"),
                                                     ("soon", 2, "'soon' is not a duration"),
                                                     ("10m", 1, "the fastest is")])
def test_bad_or_impossible_deadline(run, tmp_path, deadline, code, needle):
    out = run("train-plan", str(write(tmp_path, CONTRACT_PROFILE)), f"--deadline={deadline}", "--json")
    assert out.returncode == code
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], out.stderr


def test_hpo_json_and_team_budget_in_the_store(run, tmp_path):
    db = f"sqlite:///{tmp_path / 'hpo.db'}"
    out = run("hpo", "--trials", "3", "--epochs", "3", "--pruner", "sha", "--team", "ml", "--team-budget-usd", "5",
              "--db", db, "--price-usd-per-gpu-hour", "2", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    for key in ("best_score", "best_params", "trials", "pruned_trials", "gpu_seconds", "cost_usd", "budget_usd",
                "stopped_by_budget"):
        assert key in data
    assert data["trials"] == 3 and not data["stopped_by_budget"]
    assert data["ledger"]["month_budget_usd"] == 5  # the budgets table of `costplane budget`
    assert data["ledger"]["charged_usd"] == pytest.approx(data["cost_usd"], abs=1e-6)


def test_hpo_bad_pruner_is_one_line(run):
    out = run("hpo", "--pruner", "asha", "--price-usd-per-gpu-hour", "1", "--json")
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and "unknown pruner" in out.stderr
