"""How a plan's problems are reported: one line per problem, ``<field path>: <message>``.

Validators raise ``value_error`` (a problem where they validate) or ``problems_at`` (several
problems below it); ``problems_from`` turns pydantic's errors into ``Problem`` lines, with
messages a person writing YAML understands (``must be an integer, got string '65000'``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pydantic import ValidationError
from pydantic_core import PydanticCustomError

Loc = tuple[str | int, ...]
"""A location in the plan: ``("waves", 1, "shift_steps", 2)``."""


@dataclass(frozen=True)
class Problem:
    """One problem of a plan: the field path (``""`` for the whole file) and a message."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class PlanError(Exception):
    """The plan is invalid; ``problems`` lists every problem found, one line each."""

    def __init__(self, source: str, problems: Iterable[Problem]) -> None:
        self.source = source
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(str(self))

    def lines(self) -> list[str]:
        """``<source>: <path>: <message>`` for each problem (with the YAML line when known)."""
        out = []
        for problem in self.problems:
            suffix = f" (line {problem.line})" if problem.line and problem.path else ""
            out.append(f"{self.source}: {problem}{suffix}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def format_path(loc: Iterable[str | int]) -> str:
    """``("waves", 1, "shift_steps", 2)`` -> ``waves[1].shift_steps[2]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


_PROBLEMS: Final = "plan_problems"
_VALUE: Final = "plan_value"


def value_error(message: str) -> PydanticCustomError:
    """A problem at the location being validated (a ``ValueError``; ``str()`` is the message)."""
    return PydanticCustomError(_VALUE, "{message}", {"message": message})


def problems_at(items: Sequence[tuple[Loc, str]]) -> PydanticCustomError:
    """Several problems at locations relative to the one being validated."""
    summary = "; ".join(f"{format_path(loc) or '.'}: {msg}" for loc, msg in items)
    return PydanticCustomError(
        _PROBLEMS, "{summary}", {"summary": summary, "problems": [tuple(i) for i in items]}
    )


def describe(value: Any) -> str:
    """A value as a YAML author wrote it: ``string '65000'``, ``number 1.5``, ``a list``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return f"string {text!r}"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


_TYPE_MESSAGES: Final = {
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
}


def _message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind in _TYPE_MESSAGES:
        return f"{_TYPE_MESSAGES[kind]}, got {describe(error.get('input'))}"
    if kind == "literal_error":
        return f"must be {ctx['expected']}, got {describe(error.get('input'))}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}, got {error.get('input')}"
    if kind == "greater_than":
        return f"must be greater than {ctx['gt']}, got {error.get('input')}"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']}, got {error.get('input')}"
    if kind == "too_short":
        n = ctx["min_length"]
        return f"must contain at least {n} item{'s' if n != 1 else ''}"
    if kind == "too_long":
        n = ctx["max_length"]
        return f"must contain at most {n} item{'s' if n != 1 else ''}, got {ctx['actual_length']}"
    if kind == "string_too_long":
        return f"must be at most {ctx['max_length']} characters"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    message = str(error["msg"]).splitlines()[0] if error["msg"] else kind
    return message[:1].lower() + message[1:]


def problems_from(exc: ValidationError) -> list[Problem]:
    """pydantic's errors as plan problems, one per field path."""
    errors = exc.errors(include_url=False)
    locs = [tuple(error["loc"]) for error in errors]
    out: list[Problem] = []
    for error, loc in zip(errors, locs, strict=True):
        # pydantic checks a list's min_length against its valid items only: an invalid item
        # of a one-item list also yields "too short", which is noise.
        if error["type"] == "too_short" and any(
            len(other) > len(loc) and other[: len(loc)] == loc for other in locs
        ):
            continue
        if error["type"] == _PROBLEMS:
            for sub, message in error["ctx"]["problems"]:
                out.append(Problem(format_path((*loc, *sub)), message))
        else:
            out.append(Problem(format_path(loc), _message(error)))
    return out
