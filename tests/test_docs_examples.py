"""The examples in README.md and docs/*.md are run, and the figures they print are compared with the docs.

Every `$ costplane ...` line inside a fenced block of the docs is an example: the lines after it (up to
the next `$` line or the end of the block) are what it printed. Each one is either run here (on bundled
defaults, in an empty data directory) or listed in SKIP with the reason. Running an example: every number
the docs show (dollar amounts, counts, dates; `...` elisions skipped) must appear in what the command
prints now, so a stale figure fails the test with the command to re-run.

To adjust an example when its command changes (say `cost` needs `--sample`), edit RUN: the docs command
maps to the arguments actually run (and setup commands run before it).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHARED = ROOT / ".." / "shared"

# docs command (as written after `$ `, comment stripped) -> (setup commands, arguments to run instead)
RUN: dict[str, tuple[tuple[str, ...], str | None]] = {
    "costplane place --gpu H100 --gpus 8 --hours 10 --limit 2 --json": ((), None),
    "costplane replay --policy hybrid --json": ((), None),
    "costplane cost --window 7d --by team --json": ((), "costplane cost --window 7d --by team --json --sample"),
    "costplane cost --by project --share-idle": ((), "costplane cost --by project --share-idle --sample"),
    "costplane ingest focus tests/data/focus_malformed.csv": ((), None),
    "costplane waste --sample": ((), None),
    "costplane waste --utilisation ../shared/data/traces/alibaba-genai-2026-usage/pod_gpu_duty_cycle_anon.csv "
    "--price-usd-per-gpu-hour 2.0 --json": ((), None),
    "costplane budget status --sample": (("costplane budget set --team creative --amount 15000",
                                          "costplane budget set --project banner-gen --amount 2000"), None),
}
SKIP: dict[str, str] = {
    "costplane serve": "starts a long-running server (tests/test_api_serve.py drives it)",
}
SHARED_DATA = ("../shared/",)
CLOCK_DEPENDENT = re.compile(r"in the future \(now ")  # figures that move with the wall clock are not compared  # examples on the shared traces run only where they are present


@dataclass(frozen=True)
class Example:
    doc: str
    line: int
    command: str
    output: tuple[str, ...]


def examples() -> list[Example]:
    found: list[Example] = []
    for path in DOCS:
        lines = path.read_text().splitlines()
        in_block = False
        i = 0
        while i < len(lines):
            text = lines[i]
            if text.lstrip().startswith("```"):
                in_block = not in_block
                i += 1
                continue
            if in_block and text.startswith("$ costplane"):
                start = i
                command = text[2:]
                while command.rstrip().endswith("\\") and i + 1 < len(lines):
                    i += 1
                    command = command.rstrip()[:-1] + " " + lines[i].strip()
                command = re.sub(r"\s+#.*$", "", command).strip()
                out: list[str] = []
                i += 1
                while i < len(lines) and not lines[i].lstrip().startswith("```") and not lines[i].startswith("$ "):
                    out.append(lines[i])
                    i += 1
                found.append(Example(path.name, start + 1, " ".join(command.split()), tuple(out)))
                continue
            i += 1
    return found


_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def numbers(text: str) -> set[float]:
    out = set()
    for token in _NUMBER.findall(text):
        try:
            out.add(round(float(token.replace(",", "")), 6))
        except ValueError:
            pass
    return out


def run(command: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    argv = shlex.split(command)
    assert argv[0] == "costplane"
    exe = Path(sys.executable).parent / "costplane"
    return subprocess.run([str(exe), *argv[1:]], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)


ALL = examples()


def test_every_example_is_run_or_skipped_with_a_reason():
    unknown = [f"{e.doc}:{e.line}: {e.command}" for e in ALL
               if e.command not in RUN and e.command not in SKIP and not any(s in e.command for s in SHARED_DATA)]
    assert not unknown, "add these doc examples to RUN (or SKIP with a reason): " + "; ".join(unknown)


@pytest.mark.parametrize("example", [e for e in ALL if e.command not in SKIP], ids=lambda e: f"{e.doc}:{e.line}")
def test_doc_example_prints_the_documented_figures(example, tmp_path):
    if any(s in example.command for s in SHARED_DATA) and not SHARED.exists():
        pytest.skip("shared data not present")
    if example.command not in RUN:
        pytest.skip("an example on the shared traces: run by the benchmarks, not here")
    setup, instead = RUN[example.command]
    env = {**os.environ, "COSTPLANE_HOME": str(tmp_path / "home"), "HOME": str(tmp_path), "COLUMNS": "200",
           "NO_COLOR": "1"}
    env.pop("COSTPLANE_DB_URL", None)
    for cmd in setup:
        assert run(cmd, env).returncode == 0, cmd
    p = run(instead or example.command, env)
    printed = p.stdout + p.stderr
    shown = "\n".join(line for line in example.output
                      if "..." not in line and "…" not in line and not CLOCK_DEPENDENT.search(line))
    missing = sorted(numbers(shown) - numbers(printed))
    assert not missing, (f"{example.doc}:{example.line}: `{instead or example.command}` no longer prints "
                         f"{missing[:12]}; re-run it and update the docs.\nIt printed:\n{printed[:3000]}")


def test_the_fleet_file_in_docs_placement_plans(tmp_path):
    """docs/placement.md's `plan` example file is valid and plans on the bundled catalog (contract invariants)."""
    import json

    text = (ROOT / "docs" / "placement.md").read_text()
    section = text[text.index("## `costplane plan FILE`"):]
    fleet = section[section.index("```yaml") + len("```yaml"): section.index("```", section.index("```yaml") + 7)]
    path = tmp_path / "fleet.yaml"
    path.write_text(fleet)
    env = {**os.environ, "COSTPLANE_HOME": str(tmp_path / "home")}
    p = run(f"costplane plan {path} --json", env)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["status"] == "optimal" and len(out["assignments"]) == 3
    assert abs(out["total_usd"] - sum(a["total_usd"] for a in out["assignments"])) <= 0.01
    assert out["naive_total_usd"] >= out["total_usd"] - 0.01
    lambda_h100 = sum(a["gpus_per_node"] * a["nodes"] for a in out["assignments"]
                      if a["cloud"] == "lambda" and a["gpu"] == "H100")
    assert lambda_h100 <= 8
