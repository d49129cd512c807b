"""The local deployment deploys CDK nested stacks: flattened, created, verified, outputs read.

A small CDK app is synthesized here (aws-cdk-lib of the lock file): the parent has a KMS key,
an SNS topic and a Lambda function; nested stack ``Wave1`` has an alarm notifying the topic, an
EventBridge rule invoking the function (CDK puts its Lambda permission in the nested stack), an
IAM role with a policy on the parent's key and a DMS endpoint using both (created through a
filler); ``Wave1`` holds nested stack ``Inner`` (an alarm on the parent's topic, a queue with the
parent's key); sibling ``Wave2`` has a rule on ``Wave1``'s alarm (a value passed from one nested
stack to another through the parent). The parent's outputs read nested outputs, one of them two
levels down.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dms as dms
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from migration.local import Emulator, LocalDeployError, deploy_local
from migration.local.fillers import FILLERS

STACK = "NestedApp"
SECRET = "arn:aws:secretsmanager:us-west-2:123456789012:secret:orders-db-source-AbCdEf"


class Parent:
    """What the nested stacks use from the parent."""

    def __init__(self, stack: cdk.Stack, code: Path) -> None:
        self.key = kms.Key(stack, "Key", enable_key_rotation=True)
        self.topic = sns.Topic(stack, "Topic", master_key=self.key)
        self.function = lambda_.Function(
            stack,
            "Rollback",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="index.handler",
            code=lambda_.Code.from_asset(str(code)),
        )


def _alarm(scope: Construct, name: str, topic: sns.ITopic) -> cloudwatch.Alarm:
    alarm = cloudwatch.Alarm(
        scope,
        name,
        metric=cloudwatch.Metric(namespace="Migration", metric_name=f"{name}Latency"),
        threshold=300,
        evaluation_periods=1,
    )
    alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
    return alarm


class Inner(cdk.NestedStack):
    def __init__(self, scope: Construct, parent: Parent) -> None:
        super().__init__(scope, "Inner")
        self.alarm = _alarm(self, "InnerAlarm", parent.topic)
        self.queue = sqs.Queue(self, "Queue", encryption_master_key=parent.key)


class Wave1(cdk.NestedStack):
    def __init__(self, scope: Construct, parent: Parent) -> None:
        super().__init__(scope, "Wave1")
        self.alarm = _alarm(self, "CdcLatency", parent.topic)
        rule = events.Rule(
            self, "AlarmRule", event_pattern=events.EventPattern(source=["aws.cloudwatch"])
        )
        rule.add_target(targets.LambdaFunction(parent.function))
        role = iam.Role(self, "DmsAccess", assumed_by=iam.ServicePrincipal("dms.amazonaws.com"))
        iam.Policy(
            self,
            "DmsAccessPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(actions=["kms:Decrypt"], resources=[parent.key.key_arn])
            ],
        )
        self.endpoint = dms.CfnEndpoint(
            self,
            "Source",
            endpoint_type="source",
            engine_name="postgres",
            database_name="orders",
            ssl_mode="require",
            kms_key_id=parent.key.key_arn,
            postgre_sql_settings=dms.CfnEndpoint.PostgreSqlSettingsProperty(
                secrets_manager_access_role_arn=role.role_arn,
                secrets_manager_secret_id=SECRET,
                slot_name="orders_slot",
            ),
        )
        self.inner = Inner(self, parent)


class Wave2(cdk.NestedStack):
    def __init__(self, scope: Construct, parent: Parent, wave1: Wave1) -> None:
        super().__init__(scope, "Wave2")
        rule = events.Rule(
            self,
            "Wave1AlarmRule",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"], resources=[wave1.alarm.alarm_arn]
            ),
        )
        rule.add_target(targets.LambdaFunction(parent.function))


def synthesize(outdir: Path, code: Path) -> Path:
    app = cdk.App(outdir=str(outdir), analytics_reporting=False)
    stack = cdk.Stack(app, STACK)
    parent = Parent(stack, code)
    wave1 = Wave1(stack, parent)
    Wave2(stack, parent, wave1)
    cdk.CfnOutput(stack, "CdcLatencyAlarm", value=wave1.alarm.alarm_name)
    cdk.CfnOutput(stack, "SourceEndpoint", value=wave1.endpoint.ref)
    cdk.CfnOutput(stack, "InnerQueueUrl", value=wave1.inner.queue.queue_url)
    cdk.CfnOutput(stack, "TopicArn", value=parent.topic.topic_arn)
    app.synth()
    return outdir / f"{STACK}.template.json"


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Path:
    code = tmp_path_factory.mktemp("code")
    (code / "index.py").write_text("def handler(event, context):\n    return event\n")
    return synthesize(tmp_path_factory.mktemp("cdk.out"), code)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(region="us-west-2") as emu:
        yield emu


def _deploy(emulator: Emulator, template: Path, outputs: Path, name: str = STACK) -> Any:
    return deploy_local(
        template,
        endpoint_url=emulator.endpoint_url,
        stack_name=name,
        region=emulator.region,
        outputs_path=outputs,
    )


def _nested_templates(template: Path) -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text())
        for path in template.parent.glob("*.nested.template.json")
    }


def test_the_app_has_what_the_test_is_about(synthesized: Path) -> None:
    """Three nested stacks, one inside another, holding a filler type and a Lambda permission."""
    parent = json.loads(synthesized.read_text())
    nested = _nested_templates(synthesized)
    assert len(nested) == 3
    kinds = {r["Type"] for t in nested.values() for r in t["Resources"].values()}
    assert {"AWS::DMS::Endpoint", "AWS::CloudWatch::Alarm"} <= kinds & set(FILLERS)
    assert {"AWS::Lambda::Permission", "AWS::CloudFormation::Stack", "AWS::IAM::Policy"} <= kinds
    stacks = [r for r in parent["Resources"].values() if r["Type"] == "AWS::CloudFormation::Stack"]
    assert len(stacks) == 2
    reads = json.dumps(parent["Outputs"])
    assert reads.count('"Outputs.') == 3


def test_nested_stacks_deploy_with_every_resource_verified(
    emulator: Emulator, synthesized: Path, tmp_path: Path
) -> None:
    deployment = _deploy(emulator, synthesized, tmp_path / "flat-outputs.json")
    nested = _nested_templates(synthesized)
    own = {
        name: [r for r in t["Resources"].values() if r["Type"] != "AWS::CloudFormation::Stack"]
        for name, t in nested.items()
    }
    parent = json.loads(synthesized.read_text())["Resources"]
    expected = sum(map(len, own.values())) + sum(
        r["Type"] != "AWS::CloudFormation::Stack" for r in parent.values()
    )
    assert len(deployment.resources) == expected
    assert set(deployment.verified) == set(deployment.resources)
    from_nested = [r for r in deployment.resources.values() if r.nested_stack]
    assert len(from_nested) == sum(map(len, own.values()))
    assert {s.template_file: len(s.resources) for s in deployment.nested_stacks} == {
        name: len(resources) for name, resources in own.items()
    }
    inner = next(s for s in deployment.nested_stacks if s.path.count("/") == 1)
    assert inner.path.startswith("Wave1NestedStack") and "/InnerNestedStack" in inner.path
    # Every nested resource is declared in the template of the nested stack it names.
    for record in from_nested:
        stack = next(s for s in deployment.nested_stacks if s.path == record.nested_stack)
        assert record.nested_logical_id in nested[stack.template_file]["Resources"]
        assert record.logical_id in stack.resources
    summary = deployment.summary()
    assert (
        f"{len(deployment.resources)} resources ({len(from_nested)} from 3 nested stacks)"
        in (summary.splitlines()[0])
    )
    assert f"from nested stack {inner.path} as " in summary
    assert "nested stacks (3), flattened into the stack:" in summary


def test_the_outputs_read_through_the_nested_stacks(
    emulator: Emulator, synthesized: Path, tmp_path: Path
) -> None:
    deployment = _deploy(emulator, synthesized, tmp_path / "flat-outputs.json", "NestedOutputs")
    written = json.loads((tmp_path / "flat-outputs.json").read_text())
    assert written == deployment.outputs
    assert sorted(written) == ["CdcLatencyAlarm", "InnerQueueUrl", "SourceEndpoint", "TopicArn"]
    by_type = _physical_ids(deployment)
    assert written["CdcLatencyAlarm"] in by_type["AWS::CloudWatch::Alarm"]
    assert written["SourceEndpoint"] == by_type["AWS::DMS::Endpoint"][0]
    assert written["InnerQueueUrl"] == by_type["AWS::SQS::Queue"][0]
    # The alarm (a filler) notifies the parent's topic (CloudFormation), through a parameter.
    alarm = emulator.client("cloudwatch").describe_alarms(AlarmNames=[written["CdcLatencyAlarm"]])
    assert alarm["MetricAlarms"][0]["AlarmActions"] == [written["TopicArn"]]
    # The DMS endpoint uses the nested role and the parent's key.
    endpoint = emulator.client("dms").describe_endpoints(
        Filters=[{"Name": "endpoint-arn", "Values": [written["SourceEndpoint"]]}]
    )["Endpoints"][0]
    role = next(
        r for r in deployment.resources.values() if r.type == "AWS::IAM::Role" and r.nested_stack
    )
    role_arn = emulator.client("iam").get_role(RoleName=role.physical_id)["Role"]["Arn"]
    assert endpoint["PostgreSQLSettings"]["SecretsManagerAccessRoleArn"] == role_arn
    assert (
        endpoint["KmsKeyId"]
        == emulator.client("kms").describe_key(KeyId=by_type["AWS::KMS::Key"][0])["KeyMetadata"][
            "Arn"
        ]
    )


def test_both_rules_may_invoke_the_parents_function(
    emulator: Emulator, synthesized: Path, tmp_path: Path
) -> None:
    deployment = _deploy(emulator, synthesized, tmp_path / "flat-outputs.json", "NestedRules")
    by_type = _physical_ids(deployment)
    function = by_type["AWS::Lambda::Function"][0]
    policy = json.loads(emulator.client("lambda").get_policy(FunctionName=function)["Policy"])
    sources = {s["Condition"]["ArnLike"]["AWS:SourceArn"] for s in policy["Statement"]}
    events_client = emulator.client("events")
    rules = {events_client.describe_rule(Name=name)["Arn"] for name in by_type["AWS::Events::Rule"]}
    assert len(rules) == 2 and sources == rules
    # Wave2's rule matches Wave1's alarm: a value passed between sibling nested stacks.
    alarm_arns = {
        a["AlarmArn"]
        for a in emulator.client("cloudwatch").describe_alarms(
            AlarmNames=by_type["AWS::CloudWatch::Alarm"]
        )["MetricAlarms"]
    }
    patterns = [
        json.loads(events_client.describe_rule(Name=name)["EventPattern"])
        for name in by_type["AWS::Events::Rule"]
    ]
    assert [p["resources"] for p in patterns if "resources" in p] == [
        [a for a in alarm_arns if "CdcLatency" in a]
    ]


def _physical_ids(deployment: Any) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for record in deployment.resources.values():
        found.setdefault(record.type, []).append(record.physical_id)
    return found


def test_a_missing_nested_template_is_one_line_naming_the_resource(
    emulator: Emulator, synthesized: Path, tmp_path: Path
) -> None:
    copied = tmp_path / "cdk.out"
    shutil.copytree(synthesized.parent, copied)
    inner = next(p for p in copied.glob("*.nested.template.json") if "Inner" in p.name)
    inner.unlink()
    with pytest.raises(LocalDeployError) as caught:
        _deploy(emulator, copied / synthesized.name, tmp_path / "out.json", "NestedMissing")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("nested stack Wave1NestedStack")
    assert "/InnerNestedStack" in message and "(AWS::CloudFormation::Stack)" in message
    assert f"template file {inner} not found" in message
    stacks = emulator.client("cloudformation").list_stacks()["StackSummaries"]
    assert "NestedMissing" not in [s["StackName"] for s in stacks]
    assert not (tmp_path / "out.json").exists()
