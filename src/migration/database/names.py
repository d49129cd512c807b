"""Names the stack gives and the runtime looks up, per planned database.

Imported by the CDK app at synth time and by the runtime: no boto3, no aws_cdk.
"""

from __future__ import annotations

from typing import Final, Literal

Direction = Literal["forward", "reverse"]

MAX_SLOT_NAME: Final = 63
"""PostgreSQL's NAMEDATALEN - 1; slot names use lowercase letters, digits and underscores."""


def slot_name(database: str, direction: Direction) -> str:
    """The logical replication slot a replication of ``database`` reads (PostgreSQL sources).

    ``forward`` lives on the on-premises source, ``reverse`` on the AWS target. The DMS
    endpoints set it (``SlotName``) so the runtime can prove a drain from the slot's
    confirmed position.
    """
    return f"migration_{database.replace('-', '_')}_{direction}"[:MAX_SLOT_NAME]


def reverse_task_identifier(database: str, environment_suffix: str) -> str:
    """The CDC-only DMS task replicating ``database`` from AWS back to on-premises."""
    return f"{database}-reverse-{environment_suffix}"
