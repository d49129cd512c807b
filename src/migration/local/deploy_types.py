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
    """One resource of the template as deployed: its type, creator and physical id.

    A resource of a nested stack (flattened into the deployed template, ``migration.local.nested``)
    also names that nested stack (``A/B``: the stack resources' logical ids from the top) and its
    logical id in the nested template.
    """

    logical_id: str
    type: str
    created_by: str
    physical_id: str = ""
    notes: list[str] = field(default_factory=list)
    nested_stack: str = ""
    nested_logical_id: str = ""

    @property
    def origin(self) -> str:
        """Where the resource is declared, for the summary ("" for the stack's own)."""
        if not self.nested_stack:
            return ""
        return f"from nested stack {self.nested_stack} as {self.nested_logical_id}"


class DeployedStack(Protocol):
    """A finished local deployment, as :func:`migration.local.verify.verify` reads it."""

    resources: dict[str, Any]
    records: dict[str, ResourceRecord]
    client: Callable[[str], Any]

    def evaluate(self, expr: Any) -> Any:
        """The template expression evaluated with the deployment's values."""
        ...
