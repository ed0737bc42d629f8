"""Load and validate the policy file, with errors that name the file, the line and the field."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from shared.config.policy import Policy, cross_reference_errors

DEFAULT_POLICY_PATH = Path(__file__).resolve().parents[2] / "config" / "policy.yaml"

Loc = tuple[str | int, ...]


class PolicyError(ValueError):
    """The policy file is unusable. `problems` lists each one as 'file:line: field: message'."""

    def __init__(self, path: Path, problems: list[str]):
        self.path = path
        self.problems = problems
        super().__init__(f"invalid policy {path}:\n" + "\n".join(f"  {p}" for p in problems))


def policy_path() -> Path:
    return Path(os.environ.get("INCIDENT_CONFIG") or DEFAULT_POLICY_PATH)


@cache
def _cached(path: str, mtime: float) -> Policy:
    return load_policy(Path(path))


def current_policy() -> Policy:
    """The policy in force, loaded once per process (reloaded if the file changes)."""
    path = policy_path()
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        raise PolicyError(path, [f"{path}: file not found (set INCIDENT_CONFIG or create it)"]) from None
    return _cached(str(path), mtime)


def load_policy(path: Path) -> Policy:
    text = _read(path)
    data, lines = _parse(path, text)
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(path, [_describe(path, lines, err["loc"], err["msg"]) for err in exc.errors()]) from None
    problems = [_describe(path, lines, loc, msg) for loc, msg in cross_reference_errors(policy)]
    if problems:
        raise PolicyError(path, problems)
    return policy


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(path, [f"{path}: file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(path, [f"{path}: cannot be read as UTF-8 text: {exc}"]) from None


def _parse(path: Path, text: str) -> tuple[Any, dict[Loc, int]]:
    """Parse YAML and remember the line of every key and item."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"{mark.line + 1}" if mark else "?"
        raise PolicyError(path, [f"{path}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    if not isinstance(data, dict):
        raise PolicyError(path, [f"{path}:1: the policy must be a mapping of sections"])
    lines: dict[Loc, int] = {}
    duplicates: list[str] = []
    _walk(node, (), lines, duplicates)
    if duplicates:
        raise PolicyError(path, [f"{path}:{d}" for d in duplicates])
    return data, lines


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int], duplicates: list[str]) -> None:
    """Record lines; a key given twice is an error (YAML would silently keep the last one)."""
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*loc, key.value)
            if child in lines and child != loc:
                field = ".".join(str(p) for p in child)
                duplicates.append(f"{key.start_mark.line + 1}: {field}: duplicate key (also on line {lines[child]})")
            lines[child] = key.start_mark.line + 1
            _walk(value, child, lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*loc, i), lines, duplicates)


def _describe(path: Path, lines: dict[Loc, int], loc: tuple[Any, ...], msg: str) -> str:
    # pydantic adds validator names (e.g. 'function-after[...]') into loc for some types: drop them.
    clean: Loc = tuple(p for p in loc if isinstance(p, int) or "[" not in str(p))
    probe = clean
    while probe and probe not in lines:
        probe = probe[:-1]
    line = lines.get(probe, 1)
    field = ".".join(str(p) for p in clean) or "(top level)"
    return f"{path}:{line}: {field}: {msg}"
