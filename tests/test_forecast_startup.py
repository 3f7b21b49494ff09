"""CLI start-up: help and the forecast commands import no heavy dependency; the lazy command table is complete."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pandas", "scipy", "sqlalchemy", "matplotlib", "fastapi", "optuna", "sklearn", "kubernetes")

PROBE = """
import json, sys
from costplane.cli import main
code = main({argv!r})
print(json.dumps({{"code": code, "heavy": sorted(m for m in {heavy!r} if m in sys.modules)}}))
"""


def _imported(argv: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv, heavy=HEAVY)], capture_output=True,
                         text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [["--help"], ["forecast", "--help"], ["forecast", "backtest", "--help"]])
def test_help_imports_no_heavy_dependency(argv):
    result = _imported(argv)
    assert result == {"code": 0, "heavy": []}


def test_forecast_backtest_runs_without_pandas_scipy_or_a_database(tmp_path):
    """The backtest itself reads its CSV with the standard library: no pandas, scipy or SQLAlchemy."""
    path = tmp_path / "s.csv"
    rows = ["unique_id,ds,y"] + [f"a,{t * 3600},{10 + (t % 24 > 12) * 5 + t % 3}" for t in range(24 * 10)]
    path.write_text("\n".join(rows) + "\n")
    result = _imported(["forecast", "backtest", "--series", str(path), "--horizon", "24", "--windows", "2",
                        "--json"])
    assert result["code"] == 0
    assert result["heavy"] == []


def test_lazy_command_table_matches_the_registered_commands():
    from costplane.cli._lazy import COMMANDS, load, modules

    registered = {}
    for module in modules():
        for name, cmd in load(module).items():
            registered.setdefault(name, (module, cmd.get_short_help_str(limit=300)))  # first registrar wins
    missing = sorted(set(registered) - set(COMMANDS))
    assert not missing, f"add {missing} to costplane/cli/_lazy.py COMMANDS"
    stale = {k: registered[k] for k in COMMANDS if k in registered and registered[k] != COMMANDS[k]}
    assert not stale, f"update these lines of costplane/cli/_lazy.py COMMANDS (module, --help line): {stale}"
    assert set(COMMANDS) <= set(registered)
