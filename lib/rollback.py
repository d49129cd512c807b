"""Rollback: the function that sends every application's traffic back on-premises."""

from __future__ import annotations

from typing import cast

import jsii
from aws_cdk import Aws, CfnElement, Duration, IStableListProducer, Lazy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from lib.nag import acknowledge
from lib.runtime_function import (
    ARCHITECTURE,
    RUNTIME,
    dead_letter_queue,
    function_log_group,
    function_role,
    runtime_function,
)
from lib.runtime_function import (
    RUNTIME_SOURCE as RUNTIME_SOURCE,  # re-exported: where the shipped runtime package lives
)

# What the rollback function's asset (and the cutover controller's, the same) leaves out of the
# runtime package: only what the Lambda needs goes in; the CLI and the plan model depend on
# packages the Lambda runtime does not have.
RUNTIME_EXCLUDES = [
    "**/__pycache__",
    "**/*.pyc",
    "*.egg-info",
    "migration/cli",
    "migration/plan",
    # The cutover engine runs on the operator side (the CLI), with the plan; the gates ship
    # (the cutover controller function checks them from the same asset).
    "migration/engine.py",
    "migration/operations.py",
    # Registering a plan is the operator's (migrate plan apply); the functions read the
    # registry (migration/registry.py ships).
    "migration/registration.py",
    # The database cutover runs in its own function (lib/database_step.py: pg8000 in a layer,
    # in the VPC) and on the operator side (migrate db). Only the names the stack gives per
    # database ship here: the controller derives task and alarm names from them.
    "migration/database/*",
    "!migration/database/__init__.py",
    "!migration/database/names.py",
    "migration/handlers/database_step.py",
    # Local emulator tooling (deploy into moto's server for demos and integration tests).
    "migration/local",
]
HANDLER = "migration.handlers.rollback.handler"

# EventBridge delivery of an alarm state change to the function: retried this often within this
# age (the function's own asynchronous retries stop at the same age), then dead-lettered.
TRIGGER_RETRY_ATTEMPTS = 4
TRIGGER_MAX_EVENT_AGE = Duration.hours(1)


@jsii.implements(IStableListProducer)
class _Listed:
    """A list that is read when the template is written (rules are added after the key)."""

    def __init__(self, items: list[str]) -> None:
        self.items = items

    def produce(self) -> list[str]:
        return list(self.items)


class Rollback(Construct):
    """The rollback function, its least-privilege role, log group and dead-letter queues.

    The function logs in Lambda's JSON format and is traced with X-Ray (active tracing). Alarm
    state changes reach it through EventBridge rules made by :meth:`add_trigger`: each target
    retries, then sends what it could not deliver to ``trigger_dead_letter_queue``.

    It runs outside the VPC on purpose: it only calls regional AWS APIs (Route 53, DynamoDB, SNS),
    and the safety net must not depend on the single NAT gateway it may be rolling back from.
    Concurrency is bounded so simultaneous alarms cannot race each other's Route 53 changes
    (the runtime also makes every rollback idempotent).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        table: dynamodb.Table,
        topic: sns.ITopic,
        hosted_zone: route53.IHostedZone,
        log_retention: logs.RetentionDays,
        reserved_concurrency: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = function_log_group(self, key=key, retention=log_retention)
        self.dead_letter_queue, self.trigger_dead_letter_queue = self._create_dead_letter_queues(
            key
        )
        self._key = key
        self._trigger_rule_arns: list[str] = []
        self._wave_rule_patterns: set[str] = set()
        self.role = function_role(
            self,
            description="Rollback function: Route 53 weights, tracking table, notifications",
            log_group=self.log_group,
        )
        self.function = self._create_function(
            key=key,
            table=table,
            topic=topic,
            hosted_zone=hosted_zone,
            reserved_concurrency=reserved_concurrency,
        )
        grant_zone_table_and_topic(self.role, key, table, topic, hosted_zone)
        self._acknowledge_role_findings(table)

    def _create_dead_letter_queues(self, key: kms.IKey) -> tuple[sqs.Queue, sqs.Queue]:
        function_dead_letters = dead_letter_queue(self, "DeadLetterQueue", key=key)
        # What EventBridge could not deliver to the function (the queue above holds what the
        # function received but failed on): a rollback that never started.
        trigger_dead_letter_queue = dead_letter_queue(self, "TriggerDeadLetterQueue", key=key)
        acknowledge(
            trigger_dead_letter_queue,
            "AwsSolutions-SQS3",
            "This queue is a dead-letter queue: that of the EventBridge rule targets "
            "(Targets[].DeadLetterConfig), which the rule does not look at; it only recognises "
            "SQS redrive and Lambda dead-letter configurations.",
        )
        return function_dead_letters, trigger_dead_letter_queue

    def _create_function(
        self,
        *,
        key: kms.IKey,
        table: dynamodb.Table,
        topic: sns.ITopic,
        hosted_zone: route53.IHostedZone,
        reserved_concurrency: int,
    ) -> lambda_.Function:
        return runtime_function(
            self,
            handler=HANDLER,
            exclude=RUNTIME_EXCLUDES,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            role=self.role,
            log_group=self.log_group,
            timeout=Duration.minutes(5),
            memory_size=256,
            reserved_concurrent_executions=reserved_concurrency or None,
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=2,
            max_event_age=Duration.hours(1),
            environment={
                "HOSTED_ZONE_ID": hosted_zone.hosted_zone_id,
                "TABLE_NAME": table.table_name,
                "SNS_TOPIC_ARN": topic.topic_arn,
            },
            key=key,
            description="Rolls migrated applications back to 100% on-premises",
        )

    def _acknowledge_role_findings(self, table: dynamodb.Table) -> None:
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:route53:::change/*]",
            "route53:GetChange (waiting for INSYNC) only accepts change ARNs, whose ids Route 53 "
            "assigns per request; the action is read-only and reveals only a change's status.",
        )
        table_logical_id = Stack.of(self).get_logical_id(cast(CfnElement, table.node.default_child))
        acknowledge(
            self.role,
            f"AwsSolutions-IAM5[Resource::<{table_logical_id}.Arn>/index/*]",
            "Query on the tracking table's MigrationPhaseIndex ('everything in phase P'); the "
            "wildcard covers only this table's own indexes.",
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            "Granted by topic.grant_publish for the KMS-encrypted topic: publishing needs a data "
            "key from the project key, the only resource of the statement.",
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "Only xray:PutTraceSegments and xray:PutTelemetryRecords (added by active tracing) "
            "have Resource '*': X-Ray supports no resource-level permissions for them; a unit "
            "test keeps every other statement of this role on named resources.",
        )

    def add_trigger(
        self,
        scope: Construct,
        construct_id: str,
        *,
        rule_name: str,
        description: str,
        event_pattern: events.EventPattern,
    ) -> events.Rule:
        """An EventBridge rule (default bus) that invokes the function for ``event_pattern``.

        The target retries ``TRIGGER_RETRY_ATTEMPTS`` times within ``TRIGGER_MAX_EVENT_AGE``,
        then sends the event to ``trigger_dead_letter_queue``. The queue policy lets only this
        rule send (CDK adds it, scoped to the rule's ARN); the key policy lets EventBridge encrypt
        for the queue, scoped to the ARNs of the rules made here. The rule gets an explicit name
        so that its ARN is known to the key policy without a dependency cycle (the function the
        rule targets is encrypted with that key).
        """
        arn = Stack.of(self).format_arn(service="events", resource="rule", resource_name=rule_name)
        if not self._trigger_rule_arns:
            self._key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="AllowRollbackTriggersToDeadLetter",
                    principals=[iam.ServicePrincipal("events.amazonaws.com")],
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=["*"],
                    conditions={
                        "ArnEquals": {"aws:SourceArn": Lazy.list(_Listed(self._trigger_rule_arns))}
                    },
                )
            )
        self._trigger_rule_arns.append(arn)
        return self._trigger_rule(
            scope,
            construct_id,
            rule_name,
            description,
            event_pattern,
            self.trigger_dead_letter_queue,
        )

    def add_wave_trigger(
        self,
        scope: Construct,
        construct_id: str,
        *,
        rule_name: str,
        rule_name_pattern: str,
        description: str,
        event_pattern: events.EventPattern,
    ) -> events.Rule:
        """:meth:`add_trigger` for a rule in a wave's nested stack.

        The trigger dead-letter queue's policy and the key policy admit every rule named like
        ``rule_name_pattern`` (one statement each, however many waves), instead of one
        statement per rule: the queue policy would otherwise grow with the plan, and
        reference each nested stack's rule back from the main stack.
        """
        if not self._wave_rule_patterns:
            self._admit_wave_rules(rule_name_pattern)
        self._wave_rule_patterns.add(rule_name_pattern)
        queue = sqs.Queue.from_queue_arn(
            scope, f"{construct_id}DeadLetterQueue", self.trigger_dead_letter_queue.queue_arn
        )
        return self._trigger_rule(scope, construct_id, rule_name, description, event_pattern, queue)

    def _trigger_rule(
        self,
        scope: Construct,
        construct_id: str,
        rule_name: str,
        description: str,
        event_pattern: events.EventPattern,
        dead_letter_queue: sqs.IQueue,
    ) -> events.Rule:
        """A rule delivering its events to the function: retried, then dead-lettered."""
        return events.Rule(
            scope,
            construct_id,
            rule_name=rule_name,
            description=description,
            event_pattern=event_pattern,
            targets=[
                targets.LambdaFunction(
                    self.function,
                    dead_letter_queue=dead_letter_queue,
                    retry_attempts=TRIGGER_RETRY_ATTEMPTS,
                    max_event_age=TRIGGER_MAX_EVENT_AGE,
                )
            ],
        )

    def _admit_wave_rules(self, rule_name_pattern: str) -> None:
        arn = Stack.of(self).format_arn(
            service="events", resource="rule", resource_name=rule_name_pattern
        )
        events_principal = iam.ServicePrincipal("events.amazonaws.com")
        self._key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowWaveRollbackTriggersToDeadLetter",
                principals=[events_principal],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],
                conditions={"ArnLike": {"aws:SourceArn": arn}},
            )
        )
        self.trigger_dead_letter_queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowWaveRollbackTriggers",
                principals=[events_principal],
                actions=["sqs:SendMessage"],
                resources=[self.trigger_dead_letter_queue.queue_arn],
                conditions={"ArnLike": {"aws:SourceArn": arn}},
            )
        )


def grant_zone_table_and_topic(
    role: iam.IRole,
    key: kms.IKey,
    table: dynamodb.Table,
    topic: sns.ITopic,
    hosted_zone: route53.IHostedZone,
) -> None:
    """What every runtime function needs: this zone's records, change status, the tracking
    table (no Scan, no DeleteItem), its key, and publishing to the topic."""
    # Route 53: read and change this zone only; change status ids are account-wide.
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=[
                "route53:GetHostedZone",
                "route53:ListResourceRecordSets",
                "route53:ChangeResourceRecordSets",
            ],
            resources=[hosted_zone.hosted_zone_arn],
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["route53:GetChange"],
            # Aws.PARTITION, not stack.partition: with @aws-cdk/core:enablePartitionLiterals
            # (cdk.json) the latter becomes "aws" and no longer matches the acknowledgement.
            resources=[f"arn:{Aws.PARTITION}:route53:::change/*"],
        )
    )
    table.grant(
        role,
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:ConditionCheckItem",
    )
    # The table is encrypted with the project key; DynamoDB needs encrypt and decrypt on it.
    key.grant(role, "kms:Decrypt", "kms:Encrypt", "kms:DescribeKey")
    topic.grant_publish(role)
