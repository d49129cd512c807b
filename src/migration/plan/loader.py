"""Reading a plan file: YAML with line numbers and duplicate keys, validated into ``Plan``.

load_plan(path) -> Plan            read, parse and validate a YAML file; raises PlanError
parse_plan(data, source) -> Plan   validate already-parsed data; raises PlanError
default_plan_path() -> Path        $MIGRATION_PLAN or examples/migration-plan.yaml (from cwd)
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import ValidationError

from migration.plan.constants import DEFAULT_PLAN_PATH, PLAN_ENV_VAR
from migration.plan.document import Plan
from migration.plan.errors import Loc, PlanError, Problem, describe, format_path, problems_from


def default_plan_path() -> Path:
    """The plan used when none is given: ``$MIGRATION_PLAN`` or ``examples/migration-plan.yaml``."""
    return Path(os.environ.get(PLAN_ENV_VAR) or DEFAULT_PLAN_PATH)


def parse_plan(data: Any, source: str = "<plan>") -> Plan:
    """Validate already-parsed plan data (a mapping); raises ``PlanError``."""
    return _parse(data, source, None)


def _parse(data: Any, source: str, node: yaml.Node | None) -> Plan:
    if data is None:
        raise PlanError(source, [Problem("", "the plan is empty")])
    if not isinstance(data, dict):
        raise PlanError(
            source,
            [Problem("", f"the plan must be a mapping at the top level, got {describe(data)}")],
        )
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        problems = problems_from(exc)
    if node is not None:
        problems = [
            Problem(p.path, p.message, _line_of(node, _parse_path(p.path))) for p in problems
        ]
    raise PlanError(source, problems)


def load_plan(path: str | os.PathLike[str]) -> Plan:
    """Read, parse and validate a plan file; raises ``PlanError`` naming the file."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError(source, [Problem("", "file not found")]) from None
    except IsADirectoryError:
        raise PlanError(source, [Problem("", "is a directory, not a plan file")]) from None
    except UnicodeDecodeError:
        raise PlanError(source, [Problem("", "is not UTF-8 text")]) from None
    except OSError as exc:
        raise PlanError(source, [Problem("", f"cannot read: {exc.strerror}")]) from None

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        duplicates = list(_duplicate_keys(node)) if node is not None else []
        if duplicates:
            raise PlanError(source, duplicates)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = exc.problem or exc.context or "syntax error"
        raise PlanError(
            source, [Problem("", f"invalid YAML{where}: {what}", mark.line + 1 if mark else None)]
        ) from None
    except yaml.YAMLError as exc:
        raise PlanError(source, [Problem("", f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    return _parse(data, source, node)


# -- YAML node helpers (line numbers, duplicate keys) ----------------------------------------

_MERGE_TAG: Final = "tag:yaml.org,2002:merge"
_PATH_PART: Final = re.compile(r"\[(\d+)\]|\.?([^.\[]+)")


def _parse_path(path: str) -> Loc:
    return tuple(int(i) if i else name for i, name in _PATH_PART.findall(path))


def _line_of(node: yaml.Node, loc: Loc) -> int | None:
    """The line of the deepest YAML node along ``loc`` (1-based)."""
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    line, node = key.start_mark.line + 1, value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _duplicate_keys(
    node: yaml.Node, loc: Loc = (), seen: set[int] | None = None
) -> Iterator[Problem]:
    seen = set() if seen is None else seen
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            if key.tag == _MERGE_TAG or not isinstance(key, yaml.ScalarNode):
                continue
            line = key.start_mark.line + 1
            if key.value in first:
                yield Problem(
                    format_path((*loc, key.value)),
                    f"duplicate key (first on line {first[key.value]})",
                    line,
                )
            else:
                first[key.value] = line
                yield from _duplicate_keys(value, (*loc, key.value), seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*loc, i), seen)
