"""What the local deployment and its verification share: the error, resource records, the
deployment as verification sees it. Both ``deploy`` and ``verify`` import this module, and
``deploy`` imports ``verify``: the imports go one way, with no cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

# Who created a resource on the emulator.
TOOL = "tool"
CLOUDFORMATION = "cloudformation"


class LocalDeployError(Exception):
    """The local deployment failed or does not match the template; the message names what."""


@dataclass
class ResourceRecord:
    """One resource of the template as deployed: its type, creator and physical id."""

    logical_id: str
    type: str
    created_by: str
    physical_id: str = ""
    notes: list[str] = field(default_factory=list)


class DeployedStack(Protocol):
    """A finished local deployment, as :func:`migration.local.verify.verify` reads it."""

    resources: dict[str, Any]
    records: dict[str, ResourceRecord]
    client: Callable[[str], Any]

    def evaluate(self, expr: Any) -> Any:
        """The template expression evaluated with the deployment's values."""
        ...
