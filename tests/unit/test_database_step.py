"""Database step: the function the cutover controller invokes to cut a database over."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from lib.database_step import (
    DRIVER_PACKAGES,
    HANDLER,
    MEMORY_MB,
    copy_distribution,
)
from lib.replication_tasks import TASK_TAG_KEY
from tests.conftest import ROOT
from tests.unit.conftest import Synthesized

# Stateful or referenced by the runtime and the local deployment: pinned.
FUNCTION_ID = "DatabaseStepFunctionBD07D551"
LAYER_ID = "DatabaseStepDriversLayer8C827BA4"
SECURITY_GROUP_ID = "DatabaseStepSecurityGroupFD3FB0B9"
ROLE_ID = "DatabaseStepRoleCBC0D19E"
POLICY_ID = "DatabaseStepRoleDefaultPolicyEACF3BEF"
QUEUE_ID = "DatabaseStepDeadLetterQueue6655C14A"
LOG_GROUP_ID = "DatabaseStepLogGroup25A72E14"
KEY_ARN = {"Fn::GetAtt": ["EncryptionKey3A692D6E", "Arn"]}
CONTROLLER_FUNCTION_ID = "CutoverControllerFunction3CFA05CA"
CONTROLLER_POLICY_ID = "CutoverControllerRoleDefaultPolicy94AB33D3"
HOOKS_PLAN = ROOT / "tests" / "fixtures" / "plans" / "freeze-hooks.yaml"
PREFIX = ["arn:", {"Ref": "AWS::Partition"}]
REGION = [{"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}]


@pytest.fixture(scope="module")
def resources(template: Template) -> dict[str, Any]:
    return template.to_json()["Resources"]


@pytest.fixture(scope="module")
def function(resources: dict[str, Any]) -> dict[str, Any]:
    return resources[FUNCTION_ID]["Properties"]


@pytest.fixture(scope="module")
def hooks_synth(synth: Any) -> Synthesized:
    """Freeze hooks by Lambda (name and ARN) and SSM, two on-premises networks."""
    return synth(planFile=str(HOOKS_PLAN))


def _statements(resources: dict[str, Any], policy_id: str = POLICY_ID) -> list[dict[str, Any]]:
    return resources[policy_id]["Properties"]["PolicyDocument"]["Statement"]


def _by_action(statements: list[dict[str, Any]], action: str) -> dict[str, Any]:
    (statement,) = [s for s in statements if action in _actions(s)]
    return statement


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def _join(*parts: Any) -> dict[str, Any]:
    return {"Fn::Join": ["", list(parts)]}


# --------------------------------------------------------------------------- function


def test_logical_ids_are_pinned(resources: dict[str, Any]) -> None:
    assert resources[FUNCTION_ID]["Type"] == "AWS::Lambda::Function"
    assert resources[LAYER_ID]["Type"] == "AWS::Lambda::LayerVersion"
    assert resources[SECURITY_GROUP_ID]["Type"] == "AWS::EC2::SecurityGroup"
    assert resources[QUEUE_ID]["Type"] == "AWS::SQS::Queue"


def test_function_runtime_sizing_and_code(
    function: dict[str, Any], resources: dict[str, Any]
) -> None:
    rollback = resources["RollbackFunction0D77E616"]["Properties"]
    assert function["Handler"] == HANDLER == "migration.handlers.database_step.handler"
    assert function["Runtime"] == rollback["Runtime"] == "python3.14"
    assert function["Architectures"] == rollback["Architectures"] == ["arm64"]
    # A drain (up to drain_timeout_seconds) and a consistency check fit Lambda's longest run.
    assert function["Timeout"] == 900
    assert function["MemorySize"] == MEMORY_MB == 512
    # Several databases may move at once; duplicates are refused by the runtime's versions.
    assert "ReservedConcurrentExecutions" not in function
    assert function["Layers"] == [{"Ref": LAYER_ID}]
    # Its own asset (the controller's plus migration/database), not the rollback function's.
    assert function["Code"]["S3Key"] != rollback["Code"]["S3Key"]


def test_logs_tracing_and_encryption(function: dict[str, Any], resources: dict[str, Any]) -> None:
    assert function["LoggingConfig"] == {
        "ApplicationLogLevel": "INFO",
        "LogFormat": "JSON",
        "LogGroup": {"Ref": LOG_GROUP_ID},
        "SystemLogLevel": "INFO",
    }
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert function["KmsKeyArn"] == KEY_ARN
    log_group = resources[LOG_GROUP_ID]["Properties"]
    assert log_group["KmsKeyId"] == KEY_ARN
    assert log_group["RetentionInDays"] == 30


def test_environment_names_the_controller_s_resources(
    function: dict[str, Any], resources: dict[str, Any]
) -> None:
    environment = function["Environment"]["Variables"]
    controller = resources[CONTROLLER_FUNCTION_ID]["Properties"]["Environment"]["Variables"]
    assert set(environment) == {
        "HOSTED_ZONE_ID",
        "TABLE_NAME",
        "SNS_TOPIC_ARN",
        "CUTOVER_SETTINGS",
        "VPN_CONNECTION_ID",
    }
    for name, value in environment.items():
        assert value == controller[name], name


def test_asynchronous_invocations_retry_twice_then_dead_letter(
    template: Template, function: dict[str, Any], resources: dict[str, Any]
) -> None:
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": FUNCTION_ID},
            "MaximumRetryAttempts": 2,
            "MaximumEventAgeInSeconds": 3600,
            "Qualifier": "$LATEST",
        },
    )
    assert function["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": [QUEUE_ID, "Arn"]}}
    queue = resources[QUEUE_ID]["Properties"]
    assert queue["KmsMasterKeyId"] == KEY_ARN
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_alarms_on_errors_and_dead_letters_notify_both_ways(template: Template) -> None:
    alarms = {
        logical_id: alarm["Properties"]
        for logical_id, alarm in template.find_resources("AWS::CloudWatch::Alarm").items()
        if logical_id.startswith("DatabaseStep")
    }
    assert sorted(alarms) == ["DatabaseStepDeadLetters620F9D03", "DatabaseStepErrorsC82E0276"]
    errors = alarms["DatabaseStepErrorsC82E0276"]
    assert (errors["MetricName"], errors["Statistic"]) == ("Errors", "Sum")
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": FUNCTION_ID}}]
    dead_letters = alarms["DatabaseStepDeadLetters620F9D03"]
    assert dead_letters["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert dead_letters["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [QUEUE_ID, "QueueName"]}}
    ]
    for alarm in alarms.values():
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"
        assert (
            alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": "NotificationsTopicAE679CBD"}]
        )


# --------------------------------------------------------------------------- network


def test_runs_in_the_private_subnets_with_its_own_group(function: dict[str, Any]) -> None:
    assert function["VpcConfig"] == {
        "SecurityGroupIds": [{"Fn::GetAtt": [SECURITY_GROUP_ID, "GroupId"]}],
        "SubnetIds": [
            {"Ref": "NetworkVpcPrivateSubnet1Subnet6DD86AE6"},
            {"Ref": "NetworkVpcPrivateSubnet2Subnet1BDBE877"},
            {"Ref": "NetworkVpcPrivateSubnet3Subnet8ABFAF5C"},
        ],
    }


def _egress(resources: dict[str, Any]) -> list[tuple[str, int, int]]:
    group = resources[SECURITY_GROUP_ID]["Properties"]
    assert "SecurityGroupIngress" not in group
    rules = group["SecurityGroupEgress"]
    assert all(r["IpProtocol"] == "tcp" for r in rules)
    return [(r["CidrIp"], r["FromPort"], r["ToPort"]) for r in rules]


def test_security_group_sends_only_to_the_databases_and_https(resources: dict[str, Any]) -> None:
    # Example plan: on-premises sources and AWS targets on 5432 (orders-db) and 3306.
    assert resources[SECURITY_GROUP_ID]["Properties"]["VpcId"] == {"Ref": "NetworkVpc7FB7348F"}
    assert _egress(resources) == [
        ("192.168.0.0/16", 3306, 3306),
        ("192.168.0.0/16", 5432, 5432),
        ("10.0.0.0/16", 3306, 3306),
        ("10.0.0.0/16", 5432, 5432),
        ("0.0.0.0/0", 443, 443),
    ]


def test_sources_ports_on_premises_and_targets_ports_in_the_vpc(
    hooks_synth: Synthesized,
) -> None:
    assert _egress(hooks_synth.template_json["Resources"]) == [
        ("192.168.0.0/16", 1433, 1433),
        ("192.168.0.0/16", 5432, 5432),
        ("192.168.0.0/16", 6432, 6432),
        ("172.20.0.0/16", 1433, 1433),
        ("172.20.0.0/16", 5432, 5432),
        ("172.20.0.0/16", 6432, 6432),
        ("10.0.0.0/16", 1433, 1433),
        ("10.0.0.0/16", 5432, 5432),
        ("0.0.0.0/0", 443, 443),
    ]


# --------------------------------------------------------------------------- permissions


def test_role_grants_exactly_the_step_s_calls(resources: dict[str, Any]) -> None:
    statements = _statements(resources)
    assert all(s["Effect"] == "Allow" for s in statements)
    by_resource = {action: s["Resource"] for s in statements for action in _actions(s)}
    assert sorted(by_resource) == sorted(
        [
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "cloudwatch:GetMetricStatistics",
            "dms:DescribeReplicationTasks",
            "ec2:DescribeVpnConnections",
            "ec2:CreateNetworkInterface",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSubnets",
            "ec2:DeleteNetworkInterface",
            "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses",
            "xray:PutTelemetryRecords",
            "xray:PutTraceSegments",
            "sqs:SendMessage",
            "secretsmanager:GetSecretValue",
            "secretsmanager:DescribeSecret",
            "dms:DescribeTableStatistics",
            "dms:StartReplicationTask",
            "dms:StopReplicationTask",
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
            "kms:GenerateDataKey*",
            "sns:Publish",
        ]
    )
    # Resource "*" only where IAM has no resource-level permissions (acknowledged in nag).
    assert {a for a, r in by_resource.items() if r == "*"} == {
        "cloudwatch:GetMetricStatistics",
        "dms:DescribeReplicationTasks",
        "ec2:DescribeVpnConnections",
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
    }
    # No managed policy (the VPC access actions are inline).
    assert "ManagedPolicyArns" not in resources[ROLE_ID]["Properties"]


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


def test_dms_calls_on_this_stack_s_forward_and_reverse_tasks(
    resources: dict[str, Any], default_synth: Any
) -> None:
    statement = _by_action(_statements(resources), "dms:StartReplicationTask")
    assert sorted(statement["Action"]) == [
        "dms:DescribeTableStatistics",
        "dms:StartReplicationTask",
        "dms:StopReplicationTask",
    ]
    # The tasks carrying this stack's tag (every forward and reverse task has it), in one
    # statement whatever the number of databases (tests/unit/test_plan_size.py).
    assert statement["Resource"] == TASK_ARNS
    assert statement["Condition"] == {"StringEquals": {f"aws:ResourceTag/{TASK_TAG_KEY}": "dev"}}
    every = default_synth.all_resources().values()  # the tasks are in the wave stacks
    tasks = [r for r in every if r["Type"] == "AWS::DMS::ReplicationTask"]
    assert len(tasks) == 4
    for task in tasks:
        assert {"Key": TASK_TAG_KEY, "Value": "dev"} in task["Properties"]["Tags"]


def test_reads_the_plan_s_secrets_by_their_common_folder(resources: dict[str, Any]) -> None:
    # migration/{inventory-db,orders-db}/{source,target}: one pattern, the same size whatever
    # the number of databases (lib/replication_tasks.py grant_secret_reads).
    statement = _by_action(_statements(resources), "secretsmanager:GetSecretValue")
    assert sorted(statement["Action"]) == [
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
    ]
    assert statement["Resource"]["Fn::Join"][1][-1] == ":secret:migration/*"


def test_changes_records_of_the_private_zone_only(resources: dict[str, Any]) -> None:
    statement = _by_action(_statements(resources), "route53:ChangeResourceRecordSets")
    assert statement["Resource"] == _join(
        "arn:aws:route53:::hostedzone/", {"Ref": "TrafficHostedZone35B4C649"}
    )


def test_builtin_freeze_needs_no_hook_permission(resources: dict[str, Any]) -> None:
    actions = {a for s in _statements(resources) for a in _actions(s)}
    assert not {a for a in actions if a.startswith(("lambda:", "ssm:"))}


def test_freeze_hooks_invoke_their_functions_and_run_their_documents(
    hooks_synth: Synthesized,
) -> None:
    statements = _statements(hooks_synth.template_json["Resources"])
    invoke = _by_action(statements, "lambda:InvokeFunction")
    assert invoke["Resource"] == [
        "arn:aws:lambda:us-east-1:222222222222:function:billing-freeze",
        _join(*PREFIX, ":lambda:", *REGION, ":function:ledger-freeze"),
    ]
    start = _by_action(statements, "ssm:StartAutomationExecution")
    assert start["Resource"] == [
        _join(*PREFIX, ":ssm:", *REGION, ":automation-definition/Crm-Freeze:*"),
        _join(*PREFIX, ":ssm:", *REGION, ":document/Crm-Freeze"),
    ]
    follow = _by_action(statements, "ssm:GetAutomationExecution")
    assert _actions(follow) == ["ssm:GetAutomationExecution", "ssm:StopAutomationExecution"]
    assert follow["Resource"] == _join(*PREFIX, ":ssm:", *REGION, ":automation-execution/*")


def test_the_controller_may_invoke_the_step_and_knows_its_name(
    resources: dict[str, Any],
) -> None:
    controller = resources[CONTROLLER_FUNCTION_ID]["Properties"]
    assert controller["Environment"]["Variables"]["DATABASE_STEP_FUNCTION"] == {"Ref": FUNCTION_ID}
    invoke = _by_action(_statements(resources, CONTROLLER_POLICY_ID), "lambda:InvokeFunction")
    # The unqualified function only: no version or alias wildcard.
    assert invoke["Resource"] == {"Fn::GetAtt": [FUNCTION_ID, "Arn"]}


# --------------------------------------------------------------------------- layer, outputs


def test_layer_is_the_drivers_for_the_function_s_runtime(resources: dict[str, Any]) -> None:
    layer = resources[LAYER_ID]["Properties"]
    assert layer["CompatibleRuntimes"] == ["python3.14"]
    assert layer["CompatibleArchitectures"] == ["arm64"]
    assert layer["Content"]["S3Key"].endswith(".zip")
    assert DRIVER_PACKAGES == ("pg8000", "scramp", "asn1crypto")


def test_output_and_export(template: Template) -> None:
    template.has_output(
        "DatabaseStepFunctionArn",
        {
            "Value": {"Fn::GetAtt": [FUNCTION_ID, "Arn"]},
            "Export": {"Name": "DatabaseStepFunctionArn-dev"},
            "Description": "DatabaseStepFunctionArn of the migration infrastructure",
        },
    )


def test_a_plan_without_databases_has_no_step(site_synth: Synthesized) -> None:
    resources = site_synth.template_json["Resources"]
    assert not [r for r in resources if r.startswith("DatabaseStep")]
    assert not site_synth.template.find_resources("AWS::Lambda::LayerVersion")
    assert "DatabaseStepFunctionArn" not in site_synth.template_json["Outputs"]
    controller = next(
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"]["Handler"] == "migration.handlers.controller.handler"
    )
    assert "DATABASE_STEP_FUNCTION" not in controller["Environment"]["Variables"]
    assert site_synth.stack.database_step.function is None


def test_a_missing_driver_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"^database drivers layer: no-such-driver is not an"):
        copy_distribution("no-such-driver", tmp_path)
    # A module, not a package: nothing to copy as a folder.
    with pytest.raises(RuntimeError, match="six is not an installed package"):
        copy_distribution("six", tmp_path)


def test_hook_wildcards_are_acknowledged_exactly(hooks_synth: Synthesized) -> None:
    report = json.loads((hooks_synth.outdir / "validation-report.json").read_text())
    (plugin,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    assert plugin["violations"] == []
    on_step = {
        f["ruleName"]
        for f in plugin["suppressedViolations"]
        if f["acknowledgedAt"] == "TapStackdev/DatabaseStep/Role"
    }
    ssm = "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:"
    assert {
        f"{ssm}automation-definition/Crm-Freeze:*]",
        f"{ssm}automation-execution/*]",
    } < on_step
