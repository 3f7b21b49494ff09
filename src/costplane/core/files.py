"""Reading the user's YAML/JSON files (plans, specs, profiles, mappings) with one-line errors naming file, line and column."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from costplane.core.errors import InputError


def read_structured(path: str | Path, what: str, fix: str = "check the path") -> Any:
    """The parsed content of a `.json` file (JSON) or any other file (YAML); None for an empty YAML file.

    `what` names the file in errors ("plan file", "service spec", ...); `fix` is the advice when it
    cannot be read at all.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{what} {path} does not exist", fix=fix) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc.__class__.__name__
        raise InputError(f"cannot read {what} {path}: {reason}", fix=fix) from None
    try:
        return json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid YAML/JSON at line {exc.lineno}, column {exc.colno}",
                         fix="check the file's syntax") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(f"{path}: not valid YAML/JSON{at}", fix="check the file's syntax") from None
