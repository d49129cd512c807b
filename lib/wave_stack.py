"""Wave stacks: the plan's per-database resources and rollback rules, in nested stacks.

What grows with the plan does not grow the main stack: each wave's databases (DMS endpoints,
forward and reverse tasks, their CDC latency alarms) and the rules that route its alarms to the
rollback function live in a nested stack of their own, at most
:data:`MAX_DATABASES_PER_STACK` databases per nested stack (about 9 resources each, so a
nested stack stays near 370 resources, under CloudFormation's 500). ``cdk deploy`` deploys the
main stack and its nested stacks together; record pairs and names are not in any template
(``migrate plan apply`` creates them), so no deploy moves traffic.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from aws_cdk import NestedStack
from aws_cdk import aws_dms as dms
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from lib.monitoring import TaskAlarms
from lib.replication_tasks import ReplicationTasks
from lib.rollback import Rollback
from migration.plan import Application, Database, Plan
from migration.plan.constants import BUILTIN_ALARMS

MAX_DATABASES_PER_STACK = 40
"""Databases per nested stack: 9 resources each leaves room under 400 resources."""

MAX_PATTERN_CHARS = 1800
"""Characters of alarm names per rule's event pattern (EventBridge's default quota for a whole
pattern is 2,048 characters; the rest of the pattern takes about 120)."""


@dataclass(frozen=True)
class WavePart:
    """One nested stack's share of a wave: databases, and the alarms its rules route."""

    wave: str
    part: int
    databases: tuple[Database, ...]
    alarm_names: tuple[str, ...]
    """Plan alarms (of the wave's applications) this part's rules route to the rollback."""

    @property
    def construct_id(self) -> str:
        return f"Wave-{self.wave}" + (f"-{self.part}" if self.part > 1 else "")


def wave_parts(plan: Plan | None) -> list[WavePart]:
    """The nested stacks a plan needs, in plan order.

    A wave's databases are split into parts of at most :data:`MAX_DATABASES_PER_STACK`; its
    applications' plan alarms go to its first part (an alarm listed in several waves to the
    first of them: one rule per alarm, so one delivery per state change). A wave with neither
    databases nor plan alarms needs no stack.
    """
    parts: list[WavePart] = []
    routed: set[str] = set()
    for wave in plan.waves if plan else ():
        alarms = _new_alarms(wave.applications, routed)
        chunks = [
            wave.databases[start : start + MAX_DATABASES_PER_STACK]
            for start in range(0, len(wave.databases), MAX_DATABASES_PER_STACK)
        ] or [()]
        for index, chunk in enumerate(chunks, start=1):
            if chunk or (index == 1 and alarms):
                parts.append(WavePart(wave.name, index, chunk, alarms if index == 1 else ()))
    return parts


def _new_alarms(applications: Sequence[Application], routed: set[str]) -> tuple[str, ...]:
    names = sorted({n for a in applications for n in a.alarms} - BUILTIN_ALARMS - routed)
    routed.update(names)
    return tuple(names)


def pattern_chunks(names: Sequence[str], limit: int = MAX_PATTERN_CHARS) -> Iterator[list[str]]:
    """``names`` in consecutive groups whose JSON list stays within ``limit`` characters."""
    chunk: list[str] = []
    for name in names:
        if chunk and len(json.dumps([*chunk, name])) > limit:
            yield chunk
            chunk = []
        chunk.append(name)
    if chunk:
        yield chunk


def trigger_rule_name(environment_suffix: str, part: WavePart, index: int) -> str:
    """``migration-rollback-<suffix>-<8 hex of the wave part>-<n>``: at most 51 characters
    (suffix at most 20), stable when waves are added or reordered."""
    digest = hashlib.sha256(part.construct_id.encode()).hexdigest()[:8]
    return f"{WAVE_RULE_PREFIX}{environment_suffix}-{digest}-{index}"


WAVE_RULE_PREFIX = "migration-rollback-"


class WaveStack(NestedStack):
    """One wave part: its databases' DMS resources and alarms, and its rollback rules."""

    def __init__(
        self,
        scope: Construct,
        *,
        part: WavePart,
        used_databases: frozenset[str],
        replication_instance: dms.CfnReplicationInstance,
        replication_instance_identifier: str,
        key: kms.IKey,
        topic: sns.ITopic,
        rollback: Rollback,
        environment_suffix: str,
        cdc_latency_evaluation_periods: int,
    ) -> None:
        super().__init__(
            scope,
            part.construct_id,
            description=f"Migration wave {part.wave} (part {part.part}): DMS and rollback rules",
        )
        self.part = part
        self.replication = ReplicationTasks(
            self,
            "ReplicationTasks",
            databases=part.databases,
            replication_instance=replication_instance,
            key=key,
            environment_suffix=environment_suffix,
        )
        self.task_alarms = TaskAlarms(
            self,
            "TaskAlarms",
            topic=topic,
            replication_instance_identifier=replication_instance_identifier,
            replication_tasks=[*self.replication.monitors, *self.replication.reverse_monitors],
            evaluation_periods=cdc_latency_evaluation_periods,
        )
        # A database no application uses has nothing to roll back: its alarm only notifies.
        routed = [
            monitor.alarm_name
            for database, monitor in zip(part.databases, self.replication.monitors, strict=True)
            if database.name in used_databases and monitor.alarm_name
        ]
        self.triggers = [
            rollback.add_wave_trigger(
                self,
                f"RollbackTrigger{index}",
                rule_name=trigger_rule_name(environment_suffix, part, index),
                rule_name_pattern=f"{WAVE_RULE_PREFIX}{environment_suffix}-*",
                description=f"Alarms of wave {part.wave} that roll their applications back",
                event_pattern=events.EventPattern(
                    source=["aws.cloudwatch"],
                    detail_type=["CloudWatch Alarm State Change"],
                    detail={"alarmName": names},
                ),
            )
            for index, names in enumerate(pattern_chunks([*routed, *part.alarm_names]), start=1)
        ]
