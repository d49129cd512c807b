"""No function grows past a screen: at most 100 lines in src/, 60 in the CDK app (lib/, tap.py).

A construct's ``__init__`` reads as the list of steps it takes; the steps are private methods
or small helpers. Counted from ``def`` to the last line, decorators and docstrings included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIMITS = {"src/migration": 100, "lib": 60, "tap.py": 60}


def _functions(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (f"{path.relative_to(ROOT)}:{node.lineno} {node.name}", node.end_lineno - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno
    ]


@pytest.mark.parametrize(("where", "limit"), LIMITS.items())
def test_no_function_is_longer_than_the_limit(where: str, limit: int) -> None:
    target = ROOT / where
    paths = [target] if target.is_file() else sorted(target.rglob("*.py"))
    assert paths
    too_long = [
        f"{name}: {length} lines"
        for path in paths
        for name, length in _functions(path)
        if length > limit
    ]
    assert too_long == []
