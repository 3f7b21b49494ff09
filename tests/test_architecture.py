"""Architecture: dependencies point inward (import-linter contracts in pyproject.toml) and every module
says in its first docstring line what it owns."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "costplane"


def test_import_contracts_hold():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("import-linter is not installed: pip install -e '.[test]'")
    proc = subprocess.run([exe], capture_output=True, text=True, cwd=SRC.parents[1], timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "0 broken" in proc.stdout


def test_every_module_has_a_docstring_saying_what_it_owns():
    missing = []
    for path in SRC.rglob("*.py"):
        if "migrations" in path.parts or path.name == "__init__.py" and path.stat().st_size == 0:
            continue
        doc = ast.get_docstring(ast.parse(path.read_text()))
        if not doc or not doc.strip():
            missing.append(str(path.relative_to(SRC)))
    assert not missing, f"modules without a first-line docstring: {missing}"
