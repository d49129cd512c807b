"""Monitoring: alarms (VPN, rollback health, DMS CDC latency) and the migration dashboard."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Capture, Match, Template

from lib.monitoring import Monitoring, ReplicationTaskMonitor, TaskAlarms
from lib.tap_stack import TapStack
from migration.database.names import cdc_latency_alarm_name

TOPIC_ARN = "arn:aws:sns:us-east-1:111111111111:migration"
TASKS = (ReplicationTaskMonitor("orders", 45), ReplicationTaskMonitor("billing", 90))
# A prepared reverse task (AWS -> on-premises): latency of applying on-premises, notify only.
REVERSE = ReplicationTaskMonitor(
    "orders-reverse", 45, metric_name="CDCLatencyTarget", triggers_rollback=False
)


def _dashboard_body(template: Template) -> dict[str, Any]:
    """The dashboard JSON; each CloudFormation token in it becomes the text ``${Token[n]}``."""
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    text = "".join(p if isinstance(p, str) else f"${{Token[{n}]}}" for n, p in enumerate(parts))
    return json.loads(text)


def _metric_names(body: dict[str, Any]) -> list[str]:
    return [
        row[1]
        for widget in body["widgets"]
        for row in widget["properties"].get("metrics", [])
        if isinstance(row[0], str)
    ]


def _monitoring(stack: cdk.Stack) -> Monitoring:
    vpn = ec2.CfnVPNConnection(
        stack, "Vpn", customer_gateway_id="cgw-1", type="ipsec.1", vpn_gateway_id="vgw-1"
    )
    return Monitoring(
        stack,
        "Monitoring",
        environment_suffix="test",
        topic=sns.Topic.from_topic_arn(stack, "Topic", TOPIC_ARN),
        vpn_connection=vpn,
        replication_instance_identifier="migration-dms-test",
        rollback_function=lambda_.Function.from_function_arn(
            stack, "Function", "arn:aws:lambda:us-east-1:111111111111:function:rollback"
        ),
        rollback_dead_letter_queue=sqs.Queue.from_queue_arn(
            stack, "Queue", "arn:aws:sqs:us-east-1:111111111111:rollback-dlq"
        ),
        rollback_trigger_dead_letter_queue=sqs.Queue.from_queue_arn(
            stack, "TriggerQueue", "arn:aws:sqs:us-east-1:111111111111:rollback-trigger-dlq"
        ),
        rollback_error_threshold=3,
        table=dynamodb.Table.from_table_name(stack, "Table", "migration-tracking-test"),
    )


def _task_alarms(stack: cdk.Stack, tasks: tuple[ReplicationTaskMonitor, ...]) -> TaskAlarms:
    return TaskAlarms(
        stack,
        "TaskAlarms",
        topic=sns.Topic.from_topic_arn(stack, "Topic", TOPIC_ARN),
        replication_instance_identifier="migration-dms-test",
        replication_tasks=tasks,
        evaluation_periods=2,
    )


@pytest.fixture(scope="module")
def isolated() -> dict[str, tuple[Any, Template]]:
    """Monitoring alone, and the task alarms alone (two forward tasks; forward and reverse)."""
    app = cdk.App()
    names = ("none", "tasks", "reverse")
    stacks = {name: cdk.Stack(app, f"Monitoring-{name}") for name in names}
    built: dict[str, Any] = {
        "none": _monitoring(stacks["none"]),
        "tasks": _task_alarms(stacks["tasks"], TASKS),
        "reverse": _task_alarms(stacks["reverse"], (TASKS[0], REVERSE)),
    }
    # Build the whole tree before the first synthesis: the app synthesizes once.
    return {name: (built[name], Template.from_stack(stacks[name])) for name in stacks}


# --------------------------------------------------------------------------- in the stack


def test_every_alarm_notifies_the_topic_on_alarm_and_ok(template: Template) -> None:
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) >= 4
    (topic,) = template.find_resources("AWS::SNS::Topic")
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic}]
        assert alarm["Properties"]["OKActions"] == [{"Ref": topic}]


def test_one_vpn_tunnel_down_alarm(template: Template) -> None:
    vpn = Capture()
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/VPN",
            "MetricName": "TunnelState",
            "Dimensions": [{"Name": "VpnId", "Value": {"Ref": vpn}}],
            "Statistic": "Minimum",
            "Period": 300,
            "Threshold": 1,
            "ComparisonOperator": "LessThanThreshold",
            "EvaluationPeriods": 1,
            "TreatMissingData": "breaching",
            "AlarmActions": [{"Ref": "NotificationsTopicAE679CBD"}],
        },
    )
    assert [vpn.as_string()] == list(template.find_resources("AWS::EC2::VPNConnection"))


def test_both_vpn_tunnels_down_alarm(template: Template) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmDescription": Match.string_like_regexp("Both VPN tunnels are down"),
            "Namespace": "AWS/VPN",
            "MetricName": "TunnelState",
            "Dimensions": [
                {"Name": "VpnId", "Value": {"Ref": "HybridConnectivityVpnConnectionFE7A6FB7"}}
            ],
            "Statistic": "Maximum",
            "Threshold": 1,
            "ComparisonOperator": "LessThanThreshold",
            "TreatMissingData": "breaching",
            "AlarmActions": [{"Ref": "NotificationsTopicAE679CBD"}],
        },
    )


def test_rollback_errors_alarm(template: Template) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/Lambda",
            "MetricName": "Errors",
            "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": "RollbackFunction0D77E616"}}],
            "Statistic": "Sum",
            "Period": 300,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [{"Ref": "NotificationsTopicAE679CBD"}],
        },
    )


def test_rollback_dead_letters_alarm(template: Template) -> None:
    queue = Capture()
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}],
            "Statistic": "Maximum",
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [{"Ref": "NotificationsTopicAE679CBD"}],
            "AlarmDescription": Match.string_like_regexp("A rollback event"),
        },
    )
    assert queue.as_string() == "RollbackDeadLetterQueue8D05F3FF"


def test_rollback_trigger_dead_letters_alarm(template: Template) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmDescription": Match.string_like_regexp("EventBridge could not deliver"),
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [
                {
                    "Name": "QueueName",
                    "Value": {
                        "Fn::GetAtt": ["RollbackTriggerDeadLetterQueue4B181616", "QueueName"]
                    },
                }
            ],
            "Statistic": "Maximum",
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [{"Ref": "NotificationsTopicAE679CBD"}],
            "OKActions": [{"Ref": "NotificationsTopicAE679CBD"}],
        },
    )


def test_dashboard_name_and_widgets(template: Template) -> None:
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    template.has_resource_properties(
        "AWS::CloudWatch::Dashboard", {"DashboardName": "migration-dashboard-dev"}
    )
    body = _dashboard_body(template)
    assert body["start"] == "-PT3H"
    assert [w["properties"]["title"] for w in body["widgets"]] == [
        "DMS replication lag (CDC latency: forward source, reverse target)",
        "VPN tunnel state (1 = up)",
        "Rollback function",
        "Tracking table activity",
        "Migration alarms",
        "Cutover controller",
        "Cutover controller alarms",
        "Database step",
        "Database step alarms",
    ]
    # Every alarm of the stack is on one of the alarm widgets.
    alarm_widgets = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert [w["properties"]["title"] for w in alarm_widgets] == [
        "Migration alarms",
        "Cutover controller alarms",
        "Database step alarms",
    ]
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert sum(len(w["properties"]["alarms"]) for w in alarm_widgets) == len(alarms)


def test_dashboard_name_follows_the_suffix(qa_template: Template) -> None:
    qa_template.has_resource_properties(
        "AWS::CloudWatch::Dashboard", {"DashboardName": "migration-dashboard-qa"}
    )


def test_stack_exposes_the_dashboard_and_alarms(stack: TapStack) -> None:
    assert isinstance(stack.dashboard, cloudwatch.Dashboard)
    assert stack.resolve(stack.dashboard.dashboard_name) == {"Ref": "MonitoringDashboard0C3675C6"}
    # The stack's own; the databases' CDC latency alarms are in their wave stacks.
    assert list(stack.alarms) == [
        "VpnTunnelDown",
        "VpnBothTunnelsDown",
        "RollbackErrors",
        "RollbackDeadLetters",
        "RollbackTriggerDeadLetters",
    ]
    assert all(isinstance(a, cloudwatch.Alarm) for a in stack.alarms.values())


def test_cdc_latency_alarms_have_the_names_the_runtime_derives(default_synth: Any) -> None:
    # The runtime computes them (migration.database.names) instead of reading a map of them;
    # each lives in the wave stack of its database.
    for wave, database in (("wave-1", "orders-db"), ("wave-2", "inventory-db")):
        template = default_synth.wave_template(wave)
        for direction, task in (
            ("forward", f"{database}-dev"),
            ("reverse", f"{database}-reverse-dev"),
        ):
            template.has_resource_properties(
                "AWS::CloudWatch::Alarm",
                {
                    "AlarmName": cdc_latency_alarm_name(database, "dev", direction),
                    "AlarmDescription": Match.string_like_regexp(f"^DMS task {task}: "),
                    "AlarmActions": [Match.object_like({"Ref": Match.any_value()})],
                },
            )


def test_dashboard_graphs_every_task_with_one_search(template: Template) -> None:
    body = _dashboard_body(template)
    lag = body["widgets"][0]["properties"]["metrics"]
    expressions = [row[0]["expression"] for row in lag]
    assert len(expressions) == 2  # whatever the number of databases
    assert all(e.startswith("SEARCH('{AWS/DMS,ReplicationInstanceIdentifier,") for e in expressions)
    assert 'MetricName="CDCLatencySource"' in expressions[0]
    assert 'MetricName="CDCLatencyTarget"' in expressions[1]


# --------------------------------------------------------------------------- in isolation


def test_each_replication_task_gets_a_cdc_latency_alarm(isolated) -> None:
    _, template = isolated["tasks"]
    template.resource_count_is("AWS::CloudWatch::Alarm", 2)
    for task in TASKS:
        template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "AlarmDescription": (
                    f"DMS task {task.task_identifier}: source CDC latency above "
                    f"{task.cdc_latency_threshold_seconds} s; roll back"
                ),
                # A plain metric alarm (a label would make it a metric-math alarm).
                "Namespace": "AWS/DMS",
                "MetricName": "CDCLatencySource",
                "Dimensions": [
                    {"Name": "ReplicationInstanceIdentifier", "Value": "migration-dms-test"},
                    {"Name": "ReplicationTaskIdentifier", "Value": task.task_identifier},
                ],
                "Period": 60,
                "Statistic": "Maximum",
                "Metrics": Match.absent(),
                "Threshold": task.cdc_latency_threshold_seconds,
                "ComparisonOperator": "GreaterThanThreshold",
                "EvaluationPeriods": 2,
                "TreatMissingData": "missing",
                "AlarmActions": [TOPIC_ARN],
                "OKActions": [TOPIC_ARN],
            },
        )


def test_forward_task_alarms_trigger_rollback(isolated) -> None:
    alarms, _ = isolated["tasks"]
    assert list(alarms.alarms) == ["CdcLatency-orders", "CdcLatency-billing"]
    assert alarms.rollback_alarms == [
        alarms.alarms["CdcLatency-orders"],
        alarms.alarms["CdcLatency-billing"],
    ]


def test_without_tasks_only_both_tunnels_down_triggers_rollback(isolated) -> None:
    monitoring, template = isolated["none"]
    template.resource_count_is("AWS::CloudWatch::Alarm", 5)
    assert monitoring.rollback_alarms == [monitoring.alarms["VpnBothTunnelsDown"]]


def test_rollback_error_threshold_is_configurable(isolated) -> None:
    _, template = isolated["none"]
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "Errors",
            "Threshold": 3,
            "Dimensions": [{"Name": "FunctionName", "Value": "rollback"}],
        },
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Dashboard", {"DashboardName": "migration-dashboard-test"}
    )
    assert len(_dashboard_body(template)["widgets"][-1]["properties"]["alarms"]) == 5


def test_reverse_task_alarm_watches_target_latency_and_only_notifies(isolated) -> None:
    alarms, template = isolated["reverse"]
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmDescription": (
                "DMS task orders-reverse: target CDC latency above 45 s; "
                "a failback would wait for it"
            ),
            "Namespace": "AWS/DMS",
            "MetricName": "CDCLatencyTarget",
            "Dimensions": [
                {"Name": "ReplicationInstanceIdentifier", "Value": "migration-dms-test"},
                {"Name": "ReplicationTaskIdentifier", "Value": "orders-reverse"},
            ],
            "Threshold": 45,
            "EvaluationPeriods": 2,
            "AlarmActions": [TOPIC_ARN],
            "OKActions": [TOPIC_ARN],
        },
    )
    reverse = alarms.alarms["CdcLatency-orders-reverse"]
    assert reverse not in alarms.rollback_alarms
    assert alarms.alarms["CdcLatency-orders"] in alarms.rollback_alarms
