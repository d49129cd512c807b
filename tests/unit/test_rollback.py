"""Rollback: the function, its code asset, least-privilege role, log group and dead-letter queue."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Capture, Match, Template

from lib.rollback import (
    HANDLER,
    RUNTIME_EXCLUDES,
    RUNTIME_SOURCE,
    TRIGGER_MAX_EVENT_AGE,
    TRIGGER_RETRY_ATTEMPTS,
)
from lib.tap_stack import TapStack
from tests.conftest import ROOT
from tests.unit.conftest import Synthesized

FUNCTION_ID = "RollbackFunction0D77E616"
DLQ_ID = "RollbackDeadLetterQueue8D05F3FF"
TRIGGER_DLQ_ID = "RollbackTriggerDeadLetterQueue4B181616"
RULE_IDS = ("RollbackTrigger85047A48",)
XRAY_ACTIONS = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
ROLE_ID = "RollbackRole58532620"
QUEUE_ID = "RollbackDeadLetterQueue8D05F3FF"
KEY_ARN = {"Fn::GetAtt": ["EncryptionKey3A692D6E", "Arn"]}
ZONE_ARN = {
    "Fn::Join": ["", ["arn:aws:route53:::hostedzone/", {"Ref": "TrafficHostedZone35B4C649"}]]
}
TABLE_ARN = {"Fn::GetAtt": ["TrackingTable3514576F", "Arn"]}
# Modules the Lambda Python runtime provides besides the standard library.
LAMBDA_RUNTIME_PACKAGES = {"boto3", "botocore"}


def _function(template: Template) -> dict[str, Any]:
    return template.to_json()["Resources"][FUNCTION_ID]["Properties"]


def _role_statements(template: Template) -> list[dict[str, Any]]:
    policies = template.find_resources(
        "AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": ROLE_ID}]}}
    )
    assert len(policies) == 1
    (policy,) = policies.values()
    return policy["Properties"]["PolicyDocument"]["Statement"]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else action


@pytest.fixture(scope="module")
def asset_dir(default_synth: Synthesized) -> Path:
    s3_key = _function(default_synth.template)["Code"]["S3Key"]
    path = default_synth.outdir / f"asset.{s3_key.removesuffix('.zip')}"
    assert path.is_dir()
    return path


# --------------------------------------------------------------------------- function


def test_the_functions_are_the_rollback_function_and_the_controller(template: Template) -> None:
    # No provider functions (log retention, custom resources) sneak in.
    functions = template.find_resources("AWS::Lambda::Function")
    assert sorted(f["Properties"]["Handler"] for f in functions.values()) == [
        "migration.handlers.controller.handler",
        "migration.handlers.database_step.handler",
        "migration.handlers.rollback.handler",
    ]
    template.resource_count_is("Custom::LogRetention", 0)


def test_function_runtime_handler_and_sizing(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.14",
            "Handler": "migration.handlers.rollback.handler",
            "Architectures": ["arm64"],
            "MemorySize": 256,
            "Timeout": 300,
            "ReservedConcurrentExecutions": 2,
            "Description": "Rolls migrated applications back to 100% on-premises",
        },
    )
    assert HANDLER == "migration.handlers.rollback.handler"


def test_code_is_an_asset_not_inline(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Code": {
                "S3Bucket": Match.any_value(),
                "S3Key": Match.string_like_regexp(r"^[0-9a-f]{64}\.zip$"),
                "ZipFile": Match.absent(),
            }
        },
    )


def test_function_runs_outside_the_vpc(template: Template) -> None:
    template.has_resource_properties("AWS::Lambda::Function", {"VpcConfig": Match.absent()})


def test_environment_points_at_the_zone_table_and_topic(template: Template) -> None:
    zone, table, topic = Capture(), Capture(), Capture()
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": {
                    "HOSTED_ZONE_ID": {"Ref": zone},
                    "TABLE_NAME": {"Ref": table},
                    "SNS_TOPIC_ARN": {"Ref": topic},
                }
            },
            "KmsKeyArn": KEY_ARN,
        },
    )
    assert [zone.as_string()] == list(template.find_resources("AWS::Route53::HostedZone"))
    assert [table.as_string()] == list(template.find_resources("AWS::DynamoDB::Table"))
    assert [topic.as_string()] == list(template.find_resources("AWS::SNS::Topic"))


def test_async_invocations_retry_then_go_to_the_dead_letter_queue(template: Template) -> None:
    assert _function(template)["DeadLetterConfig"] == {
        "TargetArn": {"Fn::GetAtt": [QUEUE_ID, "Arn"]}
    }
    assert template.to_json()["Resources"][QUEUE_ID]["Type"] == "AWS::SQS::Queue"
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": FUNCTION_ID},
            "MaximumRetryAttempts": 2,
            "MaximumEventAgeInSeconds": 3600,
            "Qualifier": "$LATEST",
        },
    )


def _queue_policy(template: Template, queue_id: str) -> list[dict[str, Any]]:
    (policy,) = template.find_resources(
        "AWS::SQS::QueuePolicy", {"Properties": {"Queues": [{"Ref": queue_id}]}}
    ).values()
    return policy["Properties"]["PolicyDocument"]["Statement"]


@pytest.mark.parametrize("queue_id", [DLQ_ID, TRIGGER_DLQ_ID])
def test_dead_letter_queues_are_kms_encrypted_and_tls_only(
    template: Template, queue_id: str
) -> None:
    # The function's, its triggers', the cutover controller schedule's (lib/cutover_controller)
    # and the database step function's (lib/database_step).
    template.resource_count_is("AWS::SQS::Queue", 4)
    queue = template.to_json()["Resources"][queue_id]
    assert queue["Properties"]["KmsMasterKeyId"] == KEY_ARN
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    (deny,) = [s for s in _queue_policy(template, queue_id) if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}


def _alarm_rules(template_json: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        rule_id: rule
        for rule_id, rule in template_json["Resources"].items()
        if rule["Type"] == "AWS::Events::Rule" and "EventPattern" in rule["Properties"]
    }


def _parameter_of(nested: dict[str, Any], value: Any) -> str:
    (name,) = value.values()
    assert name in nested["Parameters"], value
    return str(name)


def test_each_trigger_rule_retries_then_dead_letters_to_the_trigger_queue(
    default_synth: Any,
) -> None:
    rules = _alarm_rules(default_synth.template_json)
    assert sorted(rules) == sorted(RULE_IDS)
    targets = [(rule["Properties"]["Targets"], None) for rule in rules.values()]
    for nested in default_synth.nested_json.values():
        targets += [(r["Properties"]["Targets"], nested) for r in _alarm_rules(nested).values()]
    assert len(targets) == 3  # the stack's rule, one per wave stack
    for (target,), nested in targets:
        if nested is None:
            assert target["Arn"] == {"Fn::GetAtt": [FUNCTION_ID, "Arn"]}
            assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [TRIGGER_DLQ_ID, "Arn"]}}
        else:  # parameters the main stack passes: its function's and its queue's ARNs
            assert "RollbackFunction" in _parameter_of(nested, target["Arn"])
            dead_letters = _parameter_of(nested, target["DeadLetterConfig"]["Arn"])
            assert "RollbackTriggerDeadLetterQueue" in dead_letters
        assert target["RetryPolicy"] == {
            "MaximumRetryAttempts": TRIGGER_RETRY_ATTEMPTS,
            "MaximumEventAgeInSeconds": TRIGGER_MAX_EVENT_AGE.to_seconds(),
        }
    assert (TRIGGER_RETRY_ATTEMPTS, TRIGGER_MAX_EVENT_AGE.to_seconds()) == (4, 3600)


def test_only_the_trigger_rules_may_send_to_the_trigger_queue(template: Template) -> None:
    allows = [s for s in _queue_policy(template, TRIGGER_DLQ_ID) if s["Effect"] == "Allow"]
    wave_rules = {
        "Fn::Join": [
            "",
            [
                "arn:aws:events:us-east-1:",
                {"Ref": "AWS::AccountId"},
                ":rule/migration-rollback-dev-*",
            ],
        ]
    }
    assert [(s["Principal"], s["Action"], s["Resource"], s["Condition"]) for s in allows] == [
        (
            {"Service": "events.amazonaws.com"},
            "sqs:SendMessage",
            {"Fn::GetAtt": [TRIGGER_DLQ_ID, "Arn"]},
            {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule, "Arn"]}}},
        )
        for rule in RULE_IDS
    ] + [
        (
            {"Service": "events.amazonaws.com"},
            "sqs:SendMessage",
            {"Fn::GetAtt": [TRIGGER_DLQ_ID, "Arn"]},
            {"ArnLike": {"aws:SourceArn": wave_rules}},
        )
    ]
    # The function's own dead-letter queue admits nobody through its policy (the role sends).
    assert [s["Effect"] for s in _queue_policy(template, DLQ_ID)] == ["Deny"]


def test_trigger_rule_names_follow_the_suffix(qa_synth: Any) -> None:
    names = sorted(
        rule["Properties"]["Name"]
        for body in [qa_synth.template_json, *qa_synth.nested_json.values()]
        for rule in _alarm_rules(body).values()
    )
    assert names[-1] == "migration-rollback-trigger-qa"
    assert len(names) == 3
    assert all(re.fullmatch(r"migration-rollback-qa-[0-9a-f]{8}-1", n) for n in names[:-1])


def test_explicit_log_group_encrypted_with_retention(template: Template) -> None:
    log_group = Capture()
    template.has_resource_properties(
        "AWS::Lambda::Function", {"LoggingConfig": {"LogGroup": {"Ref": log_group}}}
    )
    group = template.to_json()["Resources"][log_group.as_string()]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["KmsKeyId"] == KEY_ARN
    assert group["Properties"]["RetentionInDays"] == 30
    assert "LogGroupName" not in group["Properties"]


def test_log_retention_follows_context(site_template: Template) -> None:
    groups = site_template.find_resources("AWS::Logs::LogGroup")
    assert len(groups) == 3  # flow logs, the rollback function, the cutover controller
    assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {90}


# --------------------------------------------------------------------------- role


def test_role_is_for_lambda_without_managed_policies(template: Template) -> None:
    role = template.to_json()["Resources"][ROLE_ID]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
        }
    ]
    assert "ManagedPolicyArns" not in role["Properties"]
    assert "Policies" not in role["Properties"]
    template.has_resource_properties(
        "AWS::Lambda::Function", {"Role": {"Fn::GetAtt": [ROLE_ID, "Arn"]}}
    )


def test_route53_change_and_list_on_the_migration_zone_only(template: Template) -> None:
    statements = _role_statements(template)
    route53 = [s for s in statements if any(a.startswith("route53:") for a in _actions(s))]
    zone_actions = {
        "route53:ChangeResourceRecordSets",
        "route53:GetHostedZone",
        "route53:ListResourceRecordSets",
    }
    granted: set[str] = set()
    for statement in route53:
        actions = set(_actions(statement))
        if actions == {"route53:GetChange"}:
            assert statement["Resource"] == {
                "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":route53:::change/*"]]
            }
        else:
            assert actions <= zone_actions
            assert statement["Resource"] == ZONE_ARN
            granted |= actions
        assert statement["Effect"] == "Allow"
    assert granted == zone_actions


def test_dynamodb_item_actions_without_scan_or_delete(template: Template) -> None:
    statements = _role_statements(template)
    dynamodb = [s for s in statements if any(a.startswith("dynamodb:") for a in _actions(s))]
    assert len(dynamodb) == 1
    (statement,) = dynamodb
    assert sorted(_actions(statement)) == [
        "dynamodb:ConditionCheckItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
    ]
    assert statement["Resource"] == [
        TABLE_ARN,
        {"Fn::Join": ["", [TABLE_ARN, "/index/*"]]},
    ]


def test_role_policy_has_no_broad_grant(template: Template) -> None:
    statements = _role_statements(template)
    actions = [a for s in statements for a in _actions(s)]
    for forbidden in ("dynamodb:Scan", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"):
        assert forbidden not in actions
    assert not [a for a in actions if a == "*" or a.endswith(":*")]
    assert all(s["Effect"] == "Allow" for s in statements)
    # The nag acknowledgement of Resource::* covers X-Ray's two actions and nothing else.
    unscoped = [s for s in statements if s["Resource"] == "*"]
    assert [sorted(_actions(s)) for s in unscoped] == [XRAY_ACTIONS]


@pytest.mark.parametrize("synthesized", ["default_synth", "qa_synth", "site_synth"])
def test_every_function_logs_json_and_is_traced(
    request: pytest.FixtureRequest, synthesized: str
) -> None:
    functions = request.getfixturevalue(synthesized).template.find_resources(
        "AWS::Lambda::Function"
    )
    assert functions
    for function in functions.values():
        properties = function["Properties"]
        assert properties["TracingConfig"] == {"Mode": "Active"}
        logging = dict(properties["LoggingConfig"])
        assert set(logging.pop("LogGroup")) == {"Ref"}
        assert logging == {
            "LogFormat": "JSON",
            "ApplicationLogLevel": "INFO",
            "SystemLogLevel": "INFO",
        }


def test_role_may_use_the_key_publish_and_write_its_logs(template: Template) -> None:
    statements = _role_statements(template)
    by_resource: dict[str, set[str]] = {}
    for statement in statements:
        by_resource.setdefault(str(statement["Resource"]), set()).update(_actions(statement))
    assert {"kms:Decrypt", "kms:Encrypt", "kms:DescribeKey", "kms:GenerateDataKey*"} <= (
        by_resource[str(KEY_ARN)]
    )
    assert by_resource[str({"Ref": "NotificationsTopicAE679CBD"})] == {"sns:Publish"}
    assert by_resource[str({"Fn::GetAtt": ["RollbackLogGroupFB4DA01C", "Arn"]})] == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    assert by_resource[str({"Fn::GetAtt": ["RollbackDeadLetterQueue8D05F3FF", "Arn"]})] == {
        "sqs:SendMessage"
    }


# --------------------------------------------------------------------------- code asset


def test_runtime_source_is_the_src_tree() -> None:
    assert RUNTIME_SOURCE == ROOT / "src"
    assert "migration/cli" in RUNTIME_EXCLUDES
    assert "migration/plan" in RUNTIME_EXCLUDES


def test_asset_ships_the_runtime_without_cli_plan_or_bytecode(asset_dir: Path) -> None:
    files = {p.relative_to(asset_dir).as_posix() for p in asset_dir.rglob("*") if p.is_file()}
    assert "migration/__init__.py" in files
    assert not [f for f in files if f.startswith("migration/cli/")]
    assert not [f for f in files if f.startswith("migration/plan/")]
    # The local emulator tooling (moto, the MGN and database stand-ins) never ships.
    assert not [f for f in files if f.startswith("migration/local/")]
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")]
    assert not [f for f in files if ".egg-info" in f]


def test_asset_contains_the_handler_the_function_names(asset_dir: Path) -> None:
    module, _, function = HANDLER.rpartition(".")
    path = asset_dir / (module.replace(".", "/") + ".py")
    assert path.is_file(), f"{HANDLER}: {path.relative_to(asset_dir)} is not in the asset"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert function in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_asset_imports_only_what_the_lambda_runtime_has(asset_dir: Path) -> None:
    allowed = set(sys.stdlib_module_names) | LAMBDA_RUNTIME_PACKAGES
    problems = []
    for path in sorted(asset_dir.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                where = f"{path.relative_to(asset_dir)}:{node.lineno} imports {name}"
                if name.split(".")[0] == "migration":
                    target = asset_dir / name.replace(".", "/")
                    if not (target.with_suffix(".py").is_file() or target.is_dir()):
                        problems.append(f"{where}, which is not in the asset")
                elif name.split(".")[0] not in allowed:
                    problems.append(f"{where}, which the Lambda runtime does not provide")
    assert problems == []


def test_rollback_lambda_attribute(stack: TapStack) -> None:
    assert isinstance(stack.rollback_lambda, lambda_.Function)
    assert stack.resolve(stack.rollback_lambda.function_arn) == {"Fn::GetAtt": [FUNCTION_ID, "Arn"]}


def test_zero_reserved_concurrency_reserves_nothing(site_template: Template) -> None:
    # rollbackReservedConcurrency=0 (accounts whose concurrency limit is still 10).
    function = site_template.to_json()["Resources"][FUNCTION_ID]
    assert "ReservedConcurrentExecutions" not in function["Properties"]
