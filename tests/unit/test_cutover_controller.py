"""Cutover controller: function, environment, least-privilege role, schedule, DLQ and alarms."""

from __future__ import annotations

import json
from typing import Any, cast

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from lib.config import ConfigError
from lib.cutover_controller import (
    ENVIRONMENT_BUDGET,
    HANDLER,
    ROUTE53_CHANGES_PER_SECOND,
    CutoverController,
    _json_size,
)
from lib.replication_tasks import TASK_TAG_KEY
from lib.tap_stack import TapStack

FUNCTION_ID = "CutoverControllerFunction3CFA05CA"
ROLE_ID = "CutoverControllerRole8B710183"
LOG_GROUP_ID = "CutoverControllerLogGroup32489409"
QUEUE_ID = "CutoverControllerScheduleDeadLetterQueueCC78B849"
RULE_ID = "CutoverControllerSchedule2029E099"
ROLLBACK_FUNCTION_ID = "RollbackFunction0D77E616"
KEY_ID = "EncryptionKey3A692D6E"
KEY_ARN = {"Fn::GetAtt": [KEY_ID, "Arn"]}
TOPIC = {"Ref": "NotificationsTopicAE679CBD"}
TABLE_ARN = {"Fn::GetAtt": ["TrackingTable3514576F", "Arn"]}
ZONE_ARN = {
    "Fn::Join": ["", ["arn:aws:route53:::hostedzone/", {"Ref": "TrafficHostedZone35B4C649"}]]
}
RULE_NAME = "migration-cutover-controller-dev"


def _resources(template: Template) -> dict[str, Any]:
    return cast(dict[str, Any], template.to_json()["Resources"])


def _function(template: Template) -> dict[str, Any]:
    return cast(dict[str, Any], _resources(template)[FUNCTION_ID]["Properties"])


def _environment(template: Template, function_id: str = FUNCTION_ID) -> dict[str, Any]:
    properties = _resources(template)[function_id]["Properties"]
    return cast(dict[str, Any], properties["Environment"]["Variables"])


def _statements(template: Template) -> list[dict[str, Any]]:
    policies = template.find_resources(
        "AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": ROLE_ID}]}}
    )
    (policy,) = policies.values()
    return cast(list[dict[str, Any]], policy["Properties"]["PolicyDocument"]["Statement"])


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def _statement_for(template: Template, action: str) -> dict[str, Any]:
    (statement,) = [s for s in _statements(template) if action in _actions(s)]
    return statement


# --------------------------------------------------------------------------- function


def test_function_runs_the_controller_handler_like_the_rollback_function(
    template: Template,
) -> None:
    function, rollback = _function(template), _resources(template)[ROLLBACK_FUNCTION_ID]
    assert function["Handler"] == HANDLER == "migration.handlers.controller.handler"
    # Same runtime, architecture and code asset as the rollback function.
    for key in ("Runtime", "Architectures", "Code"):
        assert function[key] == rollback["Properties"][key], key
    assert function["Runtime"] == "python3.14" and function["Architectures"] == ["arm64"]
    assert function["Timeout"] == 300
    assert function["MemorySize"] == 256
    assert function["Role"] == {"Fn::GetAtt": [ROLE_ID, "Arn"]}
    assert "VpcConfig" not in function
    assert "ZipFile" not in function["Code"]


def test_one_tick_at_a_time(template: Template) -> None:
    assert _function(template)["ReservedConcurrentExecutions"] == 1


def test_accounts_at_the_execution_limit_reserve_nothing(site_template: Template) -> None:
    # rollbackReservedConcurrency=0: neither function reserves concurrency.
    for function_id in (FUNCTION_ID, ROLLBACK_FUNCTION_ID):
        properties = _resources(site_template)[function_id]["Properties"]
        assert "ReservedConcurrentExecutions" not in properties, function_id


def test_a_failed_or_late_tick_is_not_retried(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": FUNCTION_ID},
            "MaximumRetryAttempts": 0,
            "MaximumEventAgeInSeconds": 120,
            "Qualifier": "$LATEST",
        },
    )


def test_environment_is_encrypted_and_complete(template: Template) -> None:
    assert _function(template)["KmsKeyArn"] == KEY_ARN
    environment = dict(_environment(template))
    assert "Fn::Join" in environment.pop("CUTOVER_SETTINGS")  # next test: equals the output
    assert environment == {
        "HOSTED_ZONE_ID": {"Ref": "TrafficHostedZone35B4C649"},
        "TABLE_NAME": {"Ref": "TrackingTable3514576F"},
        "SNS_TOPIC_ARN": TOPIC,
        "VPN_CONNECTION_ID": {"Ref": "HybridConnectivityVpnConnectionFE7A6FB7"},
        "ROUTE53_CHANGES_PER_SECOND": str(ROUTE53_CHANGES_PER_SECOND),
        "WAIT_FOR_INSYNC": "true",
        # The database step function it invokes (tests/unit/test_database_step.py).
        "DATABASE_STEP_FUNCTION": {"Ref": "DatabaseStepFunctionBD07D551"},
    }
    assert ROUTE53_CHANGES_PER_SECOND == 4


def test_cutover_settings_are_exactly_the_stack_output(default_synth: Any) -> None:
    output = default_synth.template_json["Outputs"]["CutoverSettings"]["Value"]
    assert _environment(default_synth.template)["CUTOVER_SETTINGS"] == output


def test_records_and_insync_match_the_rollback_function(template: Template) -> None:
    controller, rollback = _environment(template), _environment(template, ROLLBACK_FUNCTION_ID)
    # Record names come from the registered plan for both (no APPLICATION_RECORDS).
    assert "APPLICATION_RECORDS" not in controller and "APPLICATION_RECORDS" not in rollback
    # The rollback function leaves WAIT_FOR_INSYNC unset: the runtime's default, true (its
    # rollbacks record when Route 53 was INSYNC, the recovery time).
    from migration.settings import Settings

    assert Settings("z", "t", "s").wait_for_insync is True
    assert controller["WAIT_FOR_INSYNC"] == rollback.get("WAIT_FOR_INSYNC", "true")
    for name in ("HOSTED_ZONE_ID", "TABLE_NAME", "SNS_TOPIC_ARN"):
        assert controller[name] == rollback[name]


def test_environment_holds_no_plan_mapping(site_template: Template) -> None:
    environment = _environment(site_template)
    assert "APPLICATION_RECORDS" not in environment
    assert set(environment) == {
        "HOSTED_ZONE_ID",
        "TABLE_NAME",
        "SNS_TOPIC_ARN",
        "CUTOVER_SETTINGS",
        "VPN_CONNECTION_ID",
        "ROUTE53_CHANGES_PER_SECOND",
        "WAIT_FOR_INSYNC",
    }


def test_own_encrypted_log_group_with_the_configured_retention(
    template: Template, site_template: Template
) -> None:
    assert _function(template)["LoggingConfig"] == {
        "LogGroup": {"Ref": LOG_GROUP_ID},
        "LogFormat": "JSON",
        "ApplicationLogLevel": "INFO",
        "SystemLogLevel": "INFO",
    }
    assert _function(template)["TracingConfig"] == {"Mode": "Active"}
    group = _resources(template)[LOG_GROUP_ID]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["KmsKeyId"] == KEY_ARN
    assert group["Properties"]["RetentionInDays"] == 30
    assert "LogGroupName" not in group["Properties"]
    assert _resources(site_template)[LOG_GROUP_ID]["Properties"]["RetentionInDays"] == 90
    logs = _statement_for(template, "logs:PutLogEvents")
    assert logs["Resource"] == {"Fn::GetAtt": [LOG_GROUP_ID, "Arn"]}


# --------------------------------------------------------------------------- role


def test_own_role_for_lambda_without_managed_or_inline_policies(template: Template) -> None:
    role = _resources(template)[ROLE_ID]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
        }
    ]
    assert "ManagedPolicyArns" not in role
    assert "Policies" not in role
    assert (
        _function(template)["Role"]
        != _resources(template)[ROLLBACK_FUNCTION_ID]["Properties"]["Role"]
    )


def test_route53_on_the_zone_and_its_changes(template: Template) -> None:
    zone = _statement_for(template, "route53:ChangeResourceRecordSets")
    assert sorted(_actions(zone)) == [
        "route53:ChangeResourceRecordSets",
        "route53:GetHostedZone",
        "route53:ListResourceRecordSets",
    ]
    assert zone["Resource"] == ZONE_ARN
    change = _statement_for(template, "route53:GetChange")
    assert _actions(change) == ["route53:GetChange"]
    assert change["Resource"] == {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":route53:::change/*"]]
    }


def test_tracking_table_read_write_without_scan_or_delete(template: Template) -> None:
    statement = _statement_for(template, "dynamodb:Query")
    assert sorted(_actions(statement)) == [
        "dynamodb:ConditionCheckItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
    ]
    assert statement["Resource"] == [TABLE_ARN, {"Fn::Join": ["", [TABLE_ARN, "/index/*"]]}]


def test_project_key_and_topic(template: Template) -> None:
    on_key = {a for s in _statements(template) if s["Resource"] == KEY_ARN for a in _actions(s)}
    assert on_key == {"kms:Decrypt", "kms:Encrypt", "kms:DescribeKey", "kms:GenerateDataKey*"}
    publish = _statement_for(template, "sns:Publish")
    assert _actions(publish) == ["sns:Publish"] and publish["Resource"] == TOPIC


STAR_READS = [
    "cloudwatch:GetMetricStatistics",
    "dms:DescribeReplicationTasks",
    "ec2:DescribeVpnConnections",
    # Active tracing: X-Ray has no resource-level permissions for these.
    "xray:PutTelemetryRecords",
    "xray:PutTraceSegments",
]
# The servers gate (a plan with mgn servers only): read-only, no resource-level permissions.
MGN_READS = ["mgn:DescribeJobs", "mgn:DescribeSourceServers"]


def _stars(template: Template) -> list[str]:
    stars = [s for s in _statements(template) if s["Resource"] == "*"]
    return sorted(a for star in stars for a in _actions(star))


def test_gate_reads_without_resource_level_permissions_are_the_only_star(
    template: Template,
) -> None:
    assert _stars(template) == sorted(STAR_READS + MGN_READS)


def test_mgn_reads_only_with_planned_mgn_servers(site_template: Template) -> None:
    assert _stars(site_template) == STAR_READS


TASK_ARNS = {
    "Fn::Join": [
        "",
        [
            "arn:",
            {"Ref": "AWS::Partition"},
            ":dms:",
            {"Ref": "AWS::Region"},
            ":",
            {"Ref": "AWS::AccountId"},
            ":task:*",
        ],
    ]
}


def test_table_statistics_of_this_stacks_replication_tasks_only(
    template: Template, site_template: Template, default_synth: Any
) -> None:
    statement = _statement_for(template, "dms:DescribeTableStatistics")
    assert _actions(statement) == ["dms:DescribeTableStatistics"]
    # The tasks carrying this stack's tag, not a list of task ARNs: the policy is the same size
    # whatever the number of databases (tests/unit/test_plan_size.py).
    assert statement["Resource"] == TASK_ARNS
    assert statement["Condition"] == {"StringEquals": {f"aws:ResourceTag/{TASK_TAG_KEY}": "dev"}}
    every = default_synth.all_resources().values()  # the tasks are in the wave stacks
    tasks = [r for r in every if r["Type"] == "AWS::DMS::ReplicationTask"]
    assert len(tasks) == 4
    for task in tasks:
        assert {"Key": TASK_TAG_KEY, "Value": "dev"} in task["Properties"]["Tags"]
    # No replication task (empty plan): no grant at all.
    assert not [
        s for s in _statements(site_template) if "dms:DescribeTableStatistics" in _actions(s)
    ]


def test_alarm_reads_in_this_account_and_region(template: Template) -> None:
    statement = _statement_for(template, "cloudwatch:DescribeAlarms")
    assert _actions(statement) == ["cloudwatch:DescribeAlarms"]
    assert statement["Resource"] == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":cloudwatch:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":alarm:*",
            ],
        ]
    }


def test_nothing_else_is_granted(template: Template) -> None:
    actions = {a for s in _statements(template) for a in _actions(s)}
    assert all(s["Effect"] == "Allow" for s in _statements(template))
    assert actions == set(
        [
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "route53:GetHostedZone",
            "route53:ListResourceRecordSets",
            "route53:ChangeResourceRecordSets",
            "route53:GetChange",
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:ConditionCheckItem",
            "kms:Decrypt",
            "kms:Encrypt",
            "kms:DescribeKey",
            "sns:Publish",
            "kms:GenerateDataKey*",
            "dms:DescribeReplicationTasks",
            "cloudwatch:GetMetricStatistics",
            "ec2:DescribeVpnConnections",
            *MGN_READS,
            "dms:DescribeTableStatistics",
            "cloudwatch:DescribeAlarms",
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
            # On the database step function only (tests/unit/test_database_step.py).
            "lambda:InvokeFunction",
        ]
    )


# --------------------------------------------------------------------------- schedule


def test_ticks_every_minute_with_retries_and_a_dead_letter_queue(template: Template) -> None:
    rule = _resources(template)[RULE_ID]["Properties"]
    assert rule["ScheduleExpression"] == "rate(1 minute)"
    assert rule["State"] == "ENABLED"
    assert rule["Name"] == RULE_NAME
    assert "EventPattern" not in rule
    assert rule["Targets"] == [
        {
            "Arn": {"Fn::GetAtt": [FUNCTION_ID, "Arn"]},
            "Id": "Target0",
            "RetryPolicy": {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 300},
            "DeadLetterConfig": {"Arn": {"Fn::GetAtt": [QUEUE_ID, "Arn"]}},
        }
    ]
    template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "Principal": "events.amazonaws.com",
            "FunctionName": {"Fn::GetAtt": [FUNCTION_ID, "Arn"]},
            "SourceArn": {"Fn::GetAtt": [RULE_ID, "Arn"]},
        },
    )


def test_dead_letter_queue_is_encrypted_tls_only_and_open_to_the_rule_only(
    template: Template,
) -> None:
    queue = _resources(template)[QUEUE_ID]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["KmsMasterKeyId"] == KEY_ARN
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    (policy,) = template.find_resources(
        "AWS::SQS::QueuePolicy", {"Properties": {"Queues": [{"Ref": QUEUE_ID}]}}
    ).values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert [s["Effect"] for s in statements] == ["Deny", "Allow"]
    assert statements[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statements[1]["Principal"] == {"Service": "events.amazonaws.com"}
    assert statements[1]["Action"] == "sqs:SendMessage"
    assert statements[1]["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [RULE_ID, "Arn"]}}
    }


def test_eventbridge_may_use_the_key_for_this_rules_dead_letters_only(
    template: Template,
) -> None:
    policy = _resources(template)[KEY_ID]["Properties"]["KeyPolicy"]["Statement"]
    (statement,) = [s for s in policy if s.get("Sid") == "AllowControllerScheduleDeadLetters"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    # The rule's fixed name: its ARN attribute would make the key depend on the rule.
    parts = statement["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::Join"][1]
    assert parts[-1] == f":rule/{RULE_NAME}"
    assert ":events:" in parts


# --------------------------------------------------------------------------- alarms


def test_errors_alarm_notifies_the_topic(template: Template) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/Lambda",
            "MetricName": "Errors",
            "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": FUNCTION_ID}}],
            "Statistic": "Sum",
            "Period": 300,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "EvaluationPeriods": 1,
            "TreatMissingData": "notBreaching",
            "AlarmActions": [TOPIC],
            "OKActions": [TOPIC],
        },
    )


def test_undelivered_ticks_alarm_notifies_the_topic(template: Template) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [QUEUE_ID, "QueueName"]}}],
            "Statistic": "Maximum",
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [TOPIC],
            "OKActions": [TOPIC],
        },
    )


# --------------------------------------------------------------------------- stack and limits


def test_cutover_controller_lambda_attribute(stack: TapStack) -> None:
    assert isinstance(stack.cutover_controller_lambda, lambda_.Function)
    assert stack.resolve(stack.cutover_controller_lambda.function_arn) == {
        "Fn::GetAtt": [FUNCTION_ID, "Arn"]
    }


def test_json_size_is_an_upper_bound_counting_tokens_as_generated_names() -> None:
    literal = {"a": "x", "b": {"c": "yy"}, "n": 3}
    assert _json_size(literal) >= len(json.dumps(literal, separators=(",", ":")))
    token = cdk.Aws.ACCOUNT_ID
    assert _json_size({"a": token}) == 2 + len('"a"') + 2 + 80


def test_settings_over_the_environment_budget_are_refused_at_synth() -> None:
    stack = cdk.Stack(cdk.App(), "Budget")
    settings = {"cdcLatencyAlarms": {f"db-{n:03}": f"alarm-{n:03}-" + "x" * 40 for n in range(60)}}
    assert _json_size(settings) > ENVIRONMENT_BUDGET
    unused = cast(Any, None)
    with pytest.raises(ConfigError, match=r"CutoverSettings: the cutover controller's settings"):
        CutoverController(
            stack,
            "Controller",
            environment_suffix="dev",
            key=unused,
            table=unused,
            topic=unused,
            hosted_zone=unused,
            vpn_connection=unused,
            replication_tasks=[],
            cutover_settings=settings,
            rollback_function=unused,
            dashboard=unused,
            log_retention=unused,
            reserve_concurrency=True,
        )
