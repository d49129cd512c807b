"""Cutover controller: the scheduled function that runs every wave's cutover in AWS (issue 8).

An EventBridge schedule invokes ``migration.handlers.controller.handler`` every minute; each
invocation is one tick of :class:`migration.controller.Controller`, which reads everything it
needs from the tracking table and Route 53 and moves each application of each running wave at
most one transition forward. Operators start, pause, approve and abort waves by writing the
table (``migrate``); a rollback, from the rollback function, an operator or the controller
itself, always wins.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

from aws_cdk import Aws, CfnElement, Duration, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dms as dms
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
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

from lib.config import ConfigError
from lib.nag import acknowledge
from lib.replication_tasks import TASKS_FINDING, TASKS_REASON, tasks_statement
from lib.rollback import RUNTIME_EXCLUDES, grant_zone_table_and_topic
from lib.runtime_function import (
    dead_letter_queue,
    failure_alarms,
    function_log_group,
    function_role,
    runtime_function,
)

HANDLER = "migration.handlers.controller.handler"
TICK = Duration.minutes(1)
# Route 53 allows five ChangeResourceRecordSets per second per account; the controller keeps one
# free for a rollback running at the same time.
ROUTE53_CHANGES_PER_SECOND = 4

# Lambda caps a function's environment at 4 KB; the fixed variables (zone, table, topic, VPN,
# rate, flags) take about 400 bytes, a generated name (an alarm's) about 80 once deployed.
ENVIRONMENT_BUDGET = 3500
_GENERATED_NAME_BYTES = 80


_FIVE_MINUTES = Duration.minutes(5)


def _check_environment_size(cutover_settings: Mapping[str, Any]) -> None:
    """Refuse at synth what would overflow the function's 4 KB environment at deploy."""
    size = _json_size(cutover_settings)
    if size > ENVIRONMENT_BUDGET:
        raise ConfigError(
            "CutoverSettings: the cutover controller's settings need about "
            f"{size} bytes, over the {ENVIRONMENT_BUDGET} its 4 KB environment leaves; they "
            "hold stack names only, so a name is far longer than it should be"
        )


def _environment(
    stack: Stack,
    *,
    hosted_zone: route53.IHostedZone,
    table: dynamodb.Table,
    topic: sns.ITopic,
    vpn_connection: ec2.CfnVPNConnection,
    cutover_settings: Mapping[str, Any],
    wait_for_insync: bool,
) -> dict[str, str]:
    """The controller function's environment variables."""
    environment = {
        "HOSTED_ZONE_ID": hosted_zone.hosted_zone_id,
        "TABLE_NAME": table.table_name,
        "SNS_TOPIC_ARN": topic.topic_arn,
        # Exactly the stack's CutoverSettings output (the same to_json_string of the same
        # dict): DMS task and alarm names as this deployment created them.
        "CUTOVER_SETTINGS": stack.to_json_string(cutover_settings),
        "VPN_CONNECTION_ID": vpn_connection.ref,
        "ROUTE53_CHANGES_PER_SECOND": str(ROUTE53_CHANGES_PER_SECOND),
        "WAIT_FOR_INSYNC": "true" if wait_for_insync else "false",
    }
    return environment


def _json_size(value: Any) -> int:
    """Bytes of ``value`` as compact JSON once deployed (an unresolved token counts 80)."""
    if isinstance(value, str):
        return _GENERATED_NAME_BYTES if Token.is_unresolved(value) else len(json.dumps(value))
    if isinstance(value, Mapping):
        return 2 + sum(len(json.dumps(k)) + 2 + _json_size(v) for k, v in value.items())
    return len(json.dumps(value))


class CutoverController(Construct):
    """The controller function, its role, log group, schedule, dead-letter queue and alarms.

    Like the rollback function it runs outside the VPC: it only calls regional AWS APIs. It
    rolls back through the same rollback service (tracking ledger, SNS summary) as the
    rollback function, so its role holds the rollback function's permissions plus the
    read-only calls of the go/no-go gates (DMS, CloudWatch, the VPN connection).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment_suffix: str,
        key: kms.Key,
        table: dynamodb.Table,
        topic: sns.ITopic,
        hosted_zone: route53.IHostedZone,
        vpn_connection: ec2.CfnVPNConnection,
        replication_tasks: Sequence[dms.CfnReplicationTask],
        cutover_settings: Mapping[str, Any],
        rollback_function: lambda_.Function,
        dashboard: cloudwatch.Dashboard,
        log_retention: logs.RetentionDays,
        reserve_concurrency: bool,
        wait_for_insync: bool = True,
        reads_servers: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        _check_environment_size(cutover_settings)
        self.log_group = function_log_group(self, key=key, retention=log_retention)
        self.role = function_role(
            self,
            description="Cutover controller: Route 53 weights, tracking table, gates, SNS",
            log_group=self.log_group,
        )
        environment = _environment(
            Stack.of(self),
            hosted_zone=hosted_zone,
            table=table,
            topic=topic,
            vpn_connection=vpn_connection,
            cutover_settings=cutover_settings,
            wait_for_insync=wait_for_insync,
        )
        self.function = self._create_function(
            key=key,
            environment=environment,
            rollback_function=rollback_function,
            reserve_concurrency=reserve_concurrency,
        )
        grant_zone_table_and_topic(self.role, key, table, topic, hosted_zone)
        self._grant_gate_reads(replication_tasks, reads_servers)
        self.dead_letter_queue, self.schedule = self._create_schedule(environment_suffix, key)
        self.alarms = self._create_alarms(topic)
        self.errors_alarm = self.alarms["Errors"]
        self._add_dashboard_row(dashboard)
        self._acknowledge_findings(table)

    def _create_function(
        self,
        *,
        key: kms.Key,
        environment: Mapping[str, str],
        rollback_function: lambda_.Function,
        reserve_concurrency: bool,
    ) -> lambda_.Function:
        return runtime_function(
            self,
            handler=HANDLER,
            # The rollback function's code asset, runtime and architecture.
            exclude=RUNTIME_EXCLUDES,
            runtime=rollback_function.runtime,
            architecture=rollback_function.architecture,
            role=self.role,
            log_group=self.log_group,
            timeout=Duration.minutes(5),
            memory_size=256,
            # One tick at a time, so ticks never overlap. The design does not depend on it:
            # every write of a tick is conditional (Route 53 DELETE of the exact records read,
            # version-guarded tracking transitions), so two overlapping ticks cannot both move
            # an application. Accounts still at the 10-execution limit reserve nothing
            # (rollbackReservedConcurrency=0).
            reserved_concurrent_executions=1 if reserve_concurrency else None,
            # A failed tick is not retried: the next one, a minute later, starts again from the
            # stored state; a tick that could not start within two minutes (throttled behind a
            # long one) is dropped rather than queued.
            retry_attempts=0,
            max_event_age=Duration.minutes(2),
            environment=environment,
            key=key,
            description="Cutover controller: advances running waves one tick a minute",
        )

    def _grant_gate_reads(
        self, replication_tasks: Sequence[dms.CfnReplicationTask], reads_servers: bool
    ) -> None:
        # The gates: read-only signals. These calls take no resource ARN. With planned
        # servers, the servers gate reads MGN (source servers and their launch jobs).
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "dms:DescribeReplicationTasks",
                    "cloudwatch:GetMetricStatistics",
                    "ec2:DescribeVpnConnections",
                    *(["mgn:DescribeSourceServers", "mgn:DescribeJobs"] if reads_servers else []),
                ],
                resources=["*"],
            )
        )
        if replication_tasks:
            # DescribeTableStatistics is authorised per replication task: this stack's tasks,
            # by their tag (one statement whatever the number of databases).
            self.role.add_to_policy(
                tasks_statement(["dms:DescribeTableStatistics"], replication_tasks)
            )
            acknowledge(self.role, TASKS_FINDING, TASKS_REASON)
        # DescribeAlarms is authorised per alarm; the plan's alarms are named outside this
        # stack (application teams own them): this account's alarms in this region.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:DescribeAlarms"],
                resources=[f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"],
            )
        )

    def _create_schedule(
        self, environment_suffix: str, key: kms.Key
    ) -> tuple[sqs.Queue, events.Rule]:
        # The schedule. Undeliverable ticks go to a dead-letter queue encrypted with the
        # project key, which EventBridge may use for that rule only (the key policy cannot
        # reference the rule's ARN attribute: the key, the function and the rule would form a
        # cycle, hence the rule's fixed name).
        rule_name = f"migration-cutover-controller-{environment_suffix}"
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowControllerScheduleDeadLetters",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],
                conditions={
                    "ArnEquals": {
                        "aws:SourceArn": (
                            f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:"
                            f"rule/{rule_name}"
                        )
                    }
                },
            )
        )
        schedule_dead_letters = dead_letter_queue(self, "ScheduleDeadLetterQueue", key=key)
        schedule = events.Rule(
            self,
            "Schedule",
            rule_name=rule_name,
            description="Cutover controller tick: advances every running wave",
            schedule=events.Schedule.rate(TICK),
            targets=[
                targets.LambdaFunction(
                    self.function,
                    retry_attempts=4,
                    max_event_age=Duration.minutes(5),
                    dead_letter_queue=schedule_dead_letters,
                )
            ],
        )
        return schedule_dead_letters, schedule

    def _create_alarms(self, topic: sns.ITopic) -> dict[str, cloudwatch.Alarm]:
        # Sum/Maximum over 5 minutes.
        return failure_alarms(
            self,
            topic,
            [
                (
                    "Errors",
                    "The cutover controller failed a tick (a wave could not advance, or a "
                    "rollback it started failed); check its logs",
                    self.function.metric_errors(period=_FIVE_MINUTES, statistic="Sum"),
                ),
                (
                    "ScheduleDeadLetters",
                    "EventBridge could not deliver cutover controller ticks (see the schedule's "
                    "dead-letter queue): waves are not advancing and rollbacks are not enforced",
                    self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                        period=_FIVE_MINUTES, statistic="Maximum"
                    ),
                ),
            ],
        )

    def _add_dashboard_row(self, dashboard: cloudwatch.Dashboard) -> None:
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Cutover controller",
                left=[
                    self.function.metric_invocations(period=_FIVE_MINUTES),
                    self.function.metric_errors(period=_FIVE_MINUTES),
                    self.function.metric_throttles(period=_FIVE_MINUTES),
                ],
                right=[self.function.metric_duration(period=_FIVE_MINUTES, statistic="Maximum")],
                width=12,
            ),
            cloudwatch.AlarmStatusWidget(
                title="Cutover controller alarms", alarms=list(self.alarms.values()), width=12
            ),
        )

    def _acknowledge_findings(self, table: dynamodb.Table) -> None:
        acknowledge(
            self.dead_letter_queue,
            "AwsSolutions-SQS3",
            "This queue is the dead-letter queue of the schedule's EventBridge target "
            "(Targets[].DeadLetterConfig), a use SQS3 does not recognise; a dead-letter queue "
            "needs no dead-letter queue of its own.",
        )
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
            "Query on the tracking table's MigrationPhaseIndex (running waves, rolled-back "
            "applications); the wildcard covers only this table's own indexes.",
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
            "dms:DescribeReplicationTasks, cloudwatch:GetMetricStatistics, "
            "ec2:DescribeVpnConnections and (with planned servers) mgn:DescribeSourceServers "
            "and mgn:DescribeJobs support no resource-level permissions (IAM requires "
            "Resource *); all are read-only and feed the go/no-go gates. So do "
            "xray:PutTraceSegments and xray:PutTelemetryRecords, added by active tracing.",
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudwatch:<AWS::Region>:"
            "<AWS::AccountId>:alarm:*]",
            "cloudwatch:DescribeAlarms (read-only) on this account's alarms in this region: the "
            "gates read the stack's alarms and the plan's, which application teams own and name "
            "outside this stack.",
        )
