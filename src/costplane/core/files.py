"""Reading the user's YAML/JSON files (plans, specs, profiles, mappings) with one-line errors naming file, line and column."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from costplane.core.errors import InputError

MAX_FILE_BYTES = 64 * 2**20  # a plan, spec or profile is a few KiB; this bounds what a wrong path can cost
Lines = dict[tuple[str | int, ...], int]  # path of keys/indices inside the document -> 1-based line


def read_structured(path: str | Path, what: str, fix: str = "check the path") -> Any:
    """The parsed content of a `.json` file (JSON) or any other file (YAML); None for an empty YAML file.

    `what` names the file in errors ("plan file", "service spec", ...); `fix` is the advice when it
    cannot be read at all.
    """
    return read_structured_lines(path, what, fix)[0]


def read_structured_lines(path: str | Path, what: str, fix: str = "check the path") -> tuple[Any, Lines]:
    """`read_structured`, plus the line of every key and list item: `{("workloads", 0, "gpu"): 4, ...}`.

    Schema errors use it to name the line of the offending key (`core.schema.validate`).
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise InputError(f"{what} {path} is larger than {MAX_FILE_BYTES // 2**20} MiB",
                             fix=f"pass the {what} itself, not a data file")
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise InputError(f"{what} {path} does not exist", fix=fix) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc.__class__.__name__
        raise InputError(f"cannot read {what} {path}: {reason}", fix=fix) from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text), _json_lines(text)
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            return (loader.construct_document(node) if node is not None else None), _node_lines(node, ())
        finally:
            loader.dispose()
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid YAML/JSON at line {exc.lineno}, column {exc.colno}",
                         fix="check the file's syntax") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(f"{path}: not valid YAML/JSON{at}", fix="check the file's syntax") from None
    except RecursionError:
        raise InputError(f"{path}: nested too deeply to read", fix="flatten the file's structure") from None


def _node_lines(root: yaml.Node | None, at: tuple[str | int, ...]) -> Lines:
    """Lines of keys and items; an aliased node (`*ref`) is walked once, so `&`/`*` bombs stay linear."""
    lines: Lines = {}
    seen: set[int] = set()
    stack = [(root, at)]
    while stack:
        node, at = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    key = at + (str(key_node.value),)
                    lines[key] = key_node.start_mark.line + 1
                    stack.append((value_node, key))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[at + (i,)] = item.start_mark.line + 1
                stack.append((item, at + (i,)))
    return lines


def _json_lines(text: str) -> Lines:
    """JSON is (nearly) YAML: compose it for marks; no lines where the YAML reader disagrees."""
    try:
        return _node_lines(yaml.compose(text, Loader=yaml.SafeLoader), ())
    except yaml.YAMLError:
        return {}
