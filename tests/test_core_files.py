"""The one reader of users' YAML/JSON files: parsed content, or one line naming file, line and column."""

from __future__ import annotations

import pytest

from costplane.core.errors import InputError
from costplane.core.files import read_structured


def test_yaml_and_json_are_parsed(tmp_path):
    (tmp_path / "a.yaml").write_text("workloads:\n  - {name: w, gpus: 8}\n")
    (tmp_path / "a.json").write_text('{"workloads": [{"name": "w", "gpus": 8}]}')
    assert read_structured(tmp_path / "a.yaml", "plan file") == read_structured(tmp_path / "a.json", "plan file")
    (tmp_path / "empty.yaml").write_text("")
    assert read_structured(tmp_path / "empty.yaml", "mapping file") is None


@pytest.mark.parametrize(("name", "text", "where"), [
    ("bad.yaml", "workloads: [\n  {name: w\n", "at line 3, column 1"),
    ("bad.json", '{"a": 1,\n "b": }', "at line 2, column 7"),
])
def test_syntax_errors_name_line_and_column(tmp_path, name, text, where):
    (tmp_path / name).write_text(text)
    with pytest.raises(InputError, match=f"{name}: not valid YAML/JSON {where}"):
        read_structured(tmp_path / name, "plan file")


def test_missing_and_unreadable_files_are_named(tmp_path):
    with pytest.raises(InputError, match=r"service spec .*nope.yaml does not exist.*To fix: pass --service"):
        read_structured(tmp_path / "nope.yaml", "service spec", fix="pass --service with a YAML spec")
    with pytest.raises(InputError, match="cannot read plan file"):
        read_structured(tmp_path, "plan file")  # a directory
