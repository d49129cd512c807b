"""Monitoring: the migration dashboard and the alarms that notify people and trigger rollback."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

FIVE_MINUTES = Duration.minutes(5)


@dataclass(frozen=True)
class ReplicationTaskMonitor:
    """A DMS replication task to watch.

    ``task_identifier`` is the name given to the task; ``metric_task_id`` is the value DMS
    publishes in the ``ReplicationTaskIdentifier`` metric dimension, which is the task's resource
    id (the last part of its ARN), not its name. Defaults to the name where they coincide.
    ``metric_name`` is the DMS latency metric the alarm watches; ``triggers_rollback`` says
    whether its ALARM rolls application traffic back (the forward replication's does).
    ``alarm_name`` names the alarm (CloudFormation generates one when it is ``None``).
    """

    task_identifier: str
    cdc_latency_threshold_seconds: int
    metric_task_id: str | None = None
    metric_name: str = "CDCLatencySource"
    triggers_rollback: bool = True
    alarm_name: str | None = None

    @property
    def description(self) -> str:
        side = "target" if self.metric_name == "CDCLatencyTarget" else "source"
        consequence = "roll back" if self.triggers_rollback else "a failback would wait for it"
        return (
            f"DMS task {self.task_identifier}: {side} CDC latency above "
            f"{self.cdc_latency_threshold_seconds} s; {consequence}"
        )


@dataclass(frozen=True)
class _AlarmSpec:
    """One alarm, declared as data: what it watches, when it breaches, and whether it rolls back."""

    construct_id: str
    description: str
    metric: cloudwatch.IMetric
    threshold: float
    comparison: cloudwatch.ComparisonOperator
    missing_data: cloudwatch.TreatMissingData
    evaluation_periods: int = 1
    triggers_rollback: bool = False
    alarm_name: str | None = None


def _vpn_alarm_specs(vpn_connection: ec2.CfnVPNConnection) -> list[_AlarmSpec]:
    """One tunnel down (notify) and both tunnels down (roll back)."""
    tunnel_state = {"VpnId": vpn_connection.ref}
    return [
        _AlarmSpec(
            "VpnTunnelDown",
            "One VPN tunnel is down: the connection has lost its redundancy",
            cloudwatch.Metric(
                namespace="AWS/VPN",
                metric_name="TunnelState",
                dimensions_map=tunnel_state,
                statistic="Minimum",
                period=FIVE_MINUTES,
            ),
            1,
            cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            cloudwatch.TreatMissingData.BREACHING,
        ),
        _AlarmSpec(
            "VpnBothTunnelsDown",
            "Both VPN tunnels are down: AWS cannot reach on-premises; roll back",
            cloudwatch.Metric(
                namespace="AWS/VPN",
                metric_name="TunnelState",
                dimensions_map=tunnel_state,
                statistic="Maximum",
                period=FIVE_MINUTES,
            ),
            1,
            cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            cloudwatch.TreatMissingData.BREACHING,
            triggers_rollback=True,
        ),
    ]


def _rollback_alarm_specs(
    rollback_function: lambda_.IFunction,
    rollback_dead_letter_queue: sqs.IQueue,
    rollback_trigger_dead_letter_queue: sqs.IQueue,
    rollback_error_threshold: int,
) -> list[_AlarmSpec]:
    """The rollback path's own failures: function errors and both dead-letter queues."""
    return [
        _AlarmSpec(
            "RollbackErrors",
            "The rollback function failed; check its logs and dead-letter queue",
            rollback_function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
            rollback_error_threshold,
            cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            cloudwatch.TreatMissingData.NOT_BREACHING,
        ),
        _AlarmSpec(
            "RollbackDeadLetters",
            "A rollback event exhausted its retries and is in the dead-letter queue",
            rollback_dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=FIVE_MINUTES, statistic="Maximum"
            ),
            1,
            cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            cloudwatch.TreatMissingData.NOT_BREACHING,
        ),
        _AlarmSpec(
            "RollbackTriggerDeadLetters",
            "EventBridge could not deliver an alarm state change to the rollback function; "
            "the event is in the trigger dead-letter queue and nothing was rolled back",
            rollback_trigger_dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=FIVE_MINUTES, statistic="Maximum"
            ),
            0,
            cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            cloudwatch.TreatMissingData.NOT_BREACHING,
        ),
    ]


def _task_latency_alarm_specs(
    replication_instance_identifier: str,
    replication_tasks: Sequence[ReplicationTaskMonitor],
    evaluation_periods: int,
) -> list[_AlarmSpec]:
    """Per replication task, its CDC latency alarm."""
    specs: list[_AlarmSpec] = []
    for task in replication_tasks:
        metric = cloudwatch.Metric(
            namespace="AWS/DMS",
            metric_name=task.metric_name,
            dimensions_map={
                "ReplicationInstanceIdentifier": replication_instance_identifier,
                "ReplicationTaskIdentifier": task.metric_task_id or task.task_identifier,
            },
            statistic="Maximum",
            period=Duration.minutes(1),
        )
        specs.append(
            _AlarmSpec(
                f"CdcLatency-{task.task_identifier}",
                task.description,
                metric,
                task.cdc_latency_threshold_seconds,
                cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                cloudwatch.TreatMissingData.MISSING,
                evaluation_periods=evaluation_periods,
                triggers_rollback=task.triggers_rollback,
                alarm_name=task.alarm_name,
            )
        )
    return specs


class Monitoring(Construct):
    """Dashboard plus alarms, all notifying the SNS topic.

    Alarms that mean "traffic on AWS is no longer safe" (both VPN tunnels down, DMS CDC latency over
    threshold) are listed in ``rollback_alarms``; the stack routes their ALARM state changes to the
    rollback function. The rest (one tunnel down, rollback errors, dead letters of the function and
    of its EventBridge triggers) only notify.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment_suffix: str,
        topic: sns.ITopic,
        vpn_connection: ec2.CfnVPNConnection,
        replication_instance_identifier: str,
        rollback_function: lambda_.IFunction,
        rollback_dead_letter_queue: sqs.IQueue,
        rollback_trigger_dead_letter_queue: sqs.IQueue,
        rollback_error_threshold: int,
        table: dynamodb.ITable,
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self.rollback_alarms: list[cloudwatch.Alarm] = []
        vpn_specs = _vpn_alarm_specs(vpn_connection)
        specs = [
            *vpn_specs,
            *_rollback_alarm_specs(
                rollback_function,
                rollback_dead_letter_queue,
                rollback_trigger_dead_letter_queue,
                rollback_error_threshold,
            ),
        ]
        self._create_alarms(specs, topic)
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"migration-dashboard-{environment_suffix}",
            default_interval=Duration.hours(3),
        )
        self._add_replication_and_vpn_row(
            replication_instance_identifier, [spec.metric for spec in vpn_specs]
        )
        self._add_rollback_and_table_row(rollback_function, table)
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="Migration alarms", alarms=list(self.alarms.values()), width=24
            )
        )

    def _create_alarms(self, specs: Sequence[_AlarmSpec], topic: sns.ITopic) -> None:
        notify = cw_actions.SnsAction(topic)
        for spec in specs:
            alarm = _alarm(self, spec, notify)
            self.alarms[spec.construct_id] = alarm
            if spec.triggers_rollback:
                self.rollback_alarms.append(alarm)

    def _add_replication_and_vpn_row(
        self, replication_instance_identifier: str, tunnel_metrics: Sequence[cloudwatch.IMetric]
    ) -> None:
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="DMS replication lag (CDC latency: forward source, reverse target)",
                # One SEARCH finds every task of the instance, whatever the plan's size: the
                # dashboard does not grow with the databases (their tasks live in wave stacks).
                left=[
                    cloudwatch.MathExpression(
                        expression=_task_latency_search(replication_instance_identifier, metric),
                        using_metrics={},
                        label=metric,
                        period=Duration.minutes(1),
                    )
                    for metric in ("CDCLatencySource", "CDCLatencyTarget")
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="VPN tunnel state (1 = up)",
                left=list(tunnel_metrics),
                left_y_axis=cloudwatch.YAxisProps(min=0, max=1),
                width=12,
            ),
        )

    def _add_rollback_and_table_row(
        self, rollback_function: lambda_.IFunction, table: dynamodb.ITable
    ) -> None:
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Rollback function",
                left=[
                    rollback_function.metric_invocations(period=FIVE_MINUTES),
                    rollback_function.metric_errors(period=FIVE_MINUTES),
                    rollback_function.metric_throttles(period=FIVE_MINUTES),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Tracking table activity",
                left=[
                    table.metric_consumed_read_capacity_units(period=FIVE_MINUTES),
                    table.metric_consumed_write_capacity_units(period=FIVE_MINUTES),
                ],
                right=[table.metric_throttled_requests_for_operations(period=FIVE_MINUTES)],
                width=12,
            ),
        )


def _task_latency_search(replication_instance_identifier: str, metric_name: str) -> str:
    dimensions = "{AWS/DMS,ReplicationInstanceIdentifier,ReplicationTaskIdentifier}"
    return (
        f'SEARCH(\'{dimensions} MetricName="{metric_name}" '
        f"ReplicationInstanceIdentifier=\"{replication_instance_identifier}\"', 'Maximum', 60)"
    )


def _alarm(scope: Construct, spec: _AlarmSpec, notify: cw_actions.SnsAction) -> cloudwatch.Alarm:
    alarm = cloudwatch.Alarm(
        scope,
        spec.construct_id,
        alarm_name=spec.alarm_name,
        alarm_description=spec.description,
        metric=spec.metric,
        threshold=spec.threshold,
        comparison_operator=spec.comparison,
        evaluation_periods=spec.evaluation_periods,
        treat_missing_data=spec.missing_data,
    )
    alarm.add_alarm_action(notify)
    alarm.add_ok_action(notify)
    return alarm


class TaskAlarms(Construct):
    """The CDC latency alarm of each replication task (in the wave stack holding the task),
    notifying the topic; ``rollback_alarms`` are the forward tasks' (they roll back)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic: sns.ITopic,
        replication_instance_identifier: str,
        replication_tasks: Sequence[ReplicationTaskMonitor],
        evaluation_periods: int,
    ) -> None:
        super().__init__(scope, construct_id)
        specs = _task_latency_alarm_specs(
            replication_instance_identifier, replication_tasks, evaluation_periods
        )
        notify = cw_actions.SnsAction(topic)
        self.alarms = {spec.construct_id: _alarm(self, spec, notify) for spec in specs}
        self.rollback_alarms = [
            self.alarms[spec.construct_id] for spec in specs if spec.triggers_rollback
        ]
