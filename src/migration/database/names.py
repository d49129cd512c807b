"""Names the stack gives and the runtime looks up, per planned database.

Imported by the CDK app at synth time and by the runtime (the cutover controller's asset
included): no boto3, no aws_cdk. Each name is computed by exactly one function here, so the
stack need not hand the runtime a per-database map of names (issue 10: nothing in a Lambda
environment or a stack output grows with the number of planned databases).
"""

from __future__ import annotations

from typing import Final, Literal

Direction = Literal["forward", "reverse"]

MAX_SLOT_NAME: Final = 63
"""PostgreSQL's NAMEDATALEN - 1; slot names use lowercase letters, digits and underscores."""

MAX_ALARM_NAME: Final = 255
"""CloudWatch's limit on an alarm name."""


def slot_name(database: str, direction: Direction) -> str:
    """The logical replication slot a replication of ``database`` reads (PostgreSQL sources).

    ``forward`` lives on the on-premises source, ``reverse`` on the AWS target. The DMS
    endpoints set it (``SlotName``) so the runtime can prove a drain from the slot's
    confirmed position.
    """
    return f"migration_{database.replace('-', '_')}_{direction}"[:MAX_SLOT_NAME]


def task_identifier(database: str, environment_suffix: str) -> str:
    """The full-load-and-CDC DMS task replicating ``database`` from on-premises to AWS."""
    return f"{database}-{environment_suffix}"


def reverse_task_identifier(database: str, environment_suffix: str) -> str:
    """The CDC-only DMS task replicating ``database`` from AWS back to on-premises."""
    return f"{database}-reverse-{environment_suffix}"


def cdc_latency_alarm_name(
    database: str, environment_suffix: str, direction: Direction = "forward"
) -> str:
    """The CloudWatch alarm on the CDC latency of ``database``'s forward or reverse task.

    A plan name is at most 63 characters and a suffix at most 20, so the longest name is
    114 characters; a longer one (a caller without those checks) is refused, never cut.
    """
    tail = "cdc-latency" if direction == "forward" else "reverse-cdc-latency"
    name = f"migration-{environment_suffix}-{database}-{tail}"
    if len(name) > MAX_ALARM_NAME:
        raise ValueError(f"alarm name {name!r} is over CloudWatch's {MAX_ALARM_NAME} characters")
    return name


def writer_name(database: str, dns_zone: str) -> str:
    """The default name of ``database``'s writer in the private zone (plan ``dns_name``)."""
    return f"{database}.db.{dns_zone}"
