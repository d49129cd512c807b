"""What a filler is: its context, its result, and CloudFormation-style generated names.

Apart from ``fillers`` so that fillers of one capability can live in their own module
(``resolver``) without an import cycle; ``fillers`` re-exports these names.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_ALPHABET = string.ascii_uppercase + string.digits


def generated_name(
    stack_name: str, logical_id: str, *, lower: bool = False, limit: int = 255
) -> str:
    """A physical name like CloudFormation's ``{stack}-{logicalId}-{RANDOM}``."""
    suffix = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    name = f"{stack_name}-{logical_id}"[: limit - len(suffix) - 1].rstrip("-") + f"-{suffix}"
    return name.lower() if lower else name


@dataclass
class Filled:
    """What a filler created: the Ref value, GetAtt attributes and notes for the summary."""

    ref: str
    attributes: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FillContext:
    stack_name: str
    logical_id: str
    region: str
    account: str
    client: Callable[[str], Any]
